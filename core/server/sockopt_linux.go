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
