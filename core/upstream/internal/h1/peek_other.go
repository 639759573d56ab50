//go:build !linux

package h1

// alive cannot peek without blocking here: a closed or dirty idle
// connection is found by the exchange itself, and retried once.
func (c *conn) alive() bool { return true }

func (c *conn) peek(uintptr) bool { return true }

// fusedFlush: elsewhere the request is flushed, then the response read.
const fusedFlush = false

func (c *conn) writeWait(uintptr) bool { return true }
