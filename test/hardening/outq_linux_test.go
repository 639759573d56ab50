package hardening

import (
	"net"
	"syscall"
	"unsafe"
)

// unsent reports how many bytes written to c its peer has not acknowledged
// yet (SIOCOUTQ), or -1 if that cannot be known.
func unsent(c net.Conn) int {
	n := -1
	sc, ok := c.(syscall.Conn)
	if !ok {
		return n
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return n
	}
	_ = rc.Control(func(fd uintptr) {
		var q int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&q))); e == 0 {
			n = int(q)
		}
	})
	return n
}
