//go:build !linux

package server

import "net"

// boundSendQueue is Linux's TCP_NOTSENT_LOWAT; elsewhere the kernel's own
// send buffer sizing applies.
func boundSendQueue(net.Conn) {}

// setUDPBuffer asks for size bytes of UDP socket buffer; elsewhere than
// Linux what the kernel granted is not read back (0).
func setUDPBuffer(c *net.UDPConn, size int, send bool) int {
	if send {
		_ = c.SetWriteBuffer(size)
	} else {
		_ = c.SetReadBuffer(size)
	}
	return 0
}
