package h1

import (
	"syscall"
	"unsafe"
)

// alive peeks at an idle connection's socket without blocking: nothing to
// read (EAGAIN) is the only sound state. End of stream is a peer that
// closed it; bytes are a response nobody asked for (or a TLS alert); both
// make the connection unusable. One recv(2) with MSG_PEEK per reuse.
func (c *conn) alive() bool {
	if c.rc == nil {
		return true
	}
	c.peekAlive = false
	if err := c.rc.Read(c.peekFn); err != nil {
		return false
	}
	return c.peekAlive
}

func (c *conn) peek(fd uintptr) bool {
	_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peekBuf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	c.peekAlive = errno == syscall.EAGAIN
	return true // never wait for readiness
}

const fusedFlush = true

// writeWait is writeAndAwait's callback. First call: the write, then "not
// ready" when all of it left, so that the goroutine parks until the
// response arrives; a short or failed write ends the callback for the
// net.Conn to finish. Any later call is the socket become readable (or the
// wait ended otherwise): done.
func (c *conn) writeWait(fd uintptr) bool {
	if c.out == nil {
		c.ready = true
		return true
	}
	for c.sent < len(c.out) {
		n, err := syscall.Write(int(fd), c.out[c.sent:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			c.out = nil
			return true
		}
		c.sent += n
	}
	c.out = nil
	return false
}
