//go:build !linux

package redisstore

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
