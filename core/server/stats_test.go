package server

import (
	"context"
	"net"
	"testing"
)

// A connection whose streams are mostly reset is closed once, and counted
// once, however many more resets arrive.
func TestResetCloseCounted(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	var c counters
	ctx := c.connContext(context.Background(), a)
	cs := ctx.Value(connStateKey{}).(*connState)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for range minResets - 1 {
		cs.streamEnded(gone)
	}
	if n := c.resetCloses.Load(); n != 0 {
		t.Fatalf("%d closes counted below the threshold", n)
	}
	for range 5 {
		cs.streamEnded(gone)
	}
	if n := c.resetCloses.Load(); n != 1 {
		t.Fatalf("%d closes counted, want 1", n)
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Fatal("the connection is still open")
	}
	var s Server
	s.counters.resetCloses.Store(1)
	var st Stats
	s.ReadStats(&st)
	if st.ResetCloses != 1 {
		t.Fatalf("ReadStats: %+v", st)
	}
}
