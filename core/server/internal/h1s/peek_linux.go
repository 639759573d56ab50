package h1s

import (
	"syscall"
	"unsafe"
)

// peekReadable reports whether the socket has something to read (bytes,
// end of stream or an error) without taking it or blocking: one recv(2)
// with MSG_PEEK. false (EAGAIN) means wait for the poller.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return errno != syscall.EAGAIN
}
