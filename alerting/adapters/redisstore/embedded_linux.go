package redisstore

import "syscall"

// childAttr makes the kernel end the redis-server child when truceline dies,
// even by SIGKILL, so no orphan holds the data directory.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
