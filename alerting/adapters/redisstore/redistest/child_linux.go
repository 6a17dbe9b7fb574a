package redistest

import "syscall"

// childAttr makes the kernel end a redis-server child when the test process
// dies, so no orphan is left behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
