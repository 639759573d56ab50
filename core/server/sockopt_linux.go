package server

import (
	"net"
	"syscall"
)

// tcpNotSentLowat is TCP_NOTSENT_LOWAT (linux/tcp.h), which package
// syscall does not name.
const tcpNotSentLowat = 0x19

// boundSendQueue caps the bytes a client connection may hold in the
// kernel that the client has not yet been sent: past it, writes block.
// Without it the send buffer autotunes up to net.ipv4.tcp_wmem's maximum
// (4 MiB by default), so a client that stops reading parks megabytes of
// response in kernel memory per connection, and the gateway, its writes
// already done, cannot tell it is slow (server.min_response_rate). Unlike a
// fixed SO_SNDBUF it does not limit bytes in flight, so throughput to a
// distant fast client is unchanged; only the queue behind the window is
// bounded.
func boundSendQueue(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, sendQueueBytes)
	})
}

// setUDPBuffer sets a UDP socket's receive (or send) buffer to size bytes
// and returns what the kernel granted, or 0 if it cannot tell. The kernel
// caps SO_RCVBUF at net.core.rmem_max (SO_SNDBUF at wmem_max); a process
// with CAP_NET_ADMIN may exceed it with the FORCE options, as quic-go
// itself tries. Linux reports twice the size it was given (room for its
// bookkeeping), so the value read is halved.
func setUDPBuffer(c *net.UDPConn, size int, send bool) int {
	opt, force := syscall.SO_RCVBUF, syscall.SO_RCVBUFFORCE
	set := c.SetReadBuffer
	if send {
		opt, force = syscall.SO_SNDBUF, syscall.SO_SNDBUFFORCE
		set = c.SetWriteBuffer
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	got := func() (n int) {
		_ = rc.Control(func(fd uintptr) {
			v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt)
			if err == nil {
				n = v / 2
			}
		})
		return n
	}
	_ = set(size)
	if n := got(); n >= size || n == 0 {
		return n
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, force, size)
	})
	return got()
}
