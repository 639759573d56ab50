//go:build !linux

package server

import "net"

// boundSendQueue is Linux's TCP_NOTSENT_LOWAT; elsewhere the kernel's own
// send buffer sizing applies.
func boundSendQueue(net.Conn) {}
