package server

import (
	"net"
	"sync/atomic"
	"testing"
)

// The level follows the heap both ways: up past each threshold, and back
// to normal once the heap falls (the recovery a test of the binary cannot
// bring about on cue).
func TestOverloadLevels(t *testing.T) {
	var heap atomic.Int64
	o := &overload{read: heap.Load}
	t.Cleanup(o.close)
	o.configure(100, 200)
	for _, c := range []struct {
		heap        int64
		conns, reqs bool
	}{{50, false, false}, {150, true, false}, {250, true, true}, {120, true, false}, {10, false, false}} {
		heap.Store(c.heap)
		o.check()
		if o.refusingConnections() != c.conns || o.refusingRequests() != c.reqs {
			t.Errorf("heap %d: refusing connections %v, requests %v; want %v, %v", c.heap, o.refusingConnections(), o.refusingRequests(), c.conns, c.reqs)
		}
	}
	heap.Store(1000)
	o.configure(0, 0)
	if o.refusingConnections() {
		t.Error("thresholds off, still refusing")
	}
}

// A per-IP count goes back down when a connection closes, once however
// often it is closed.
func TestAdmissionPerIP(t *testing.T) {
	s := &socket{}
	l := connLimits{perIP: 1, max: 2}
	c1, c2 := net.Pipe()
	defer c2.Close()
	from := func(ip string) net.Conn {
		return addrConn{Conn: c1, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}}
	}
	a, reason := s.adm.admit(s, from("10.0.0.1"), l, false)
	if reason >= 0 {
		t.Fatalf("first connection refused: %d", reason)
	}
	if _, reason := s.adm.admit(s, from("10.0.0.1"), l, false); reason != refusedPerIP {
		t.Errorf("second from the same address: reason %d, want refusedPerIP", reason)
	}
	b, reason := s.adm.admit(s, from("10.0.0.2"), l, false)
	if reason >= 0 {
		t.Fatalf("another address refused: %d", reason)
	}
	if _, reason := s.adm.admit(s, from("10.0.0.3"), l, false); reason != refusedMaxConnections {
		t.Errorf("past max: reason %d, want refusedMaxConnections", reason)
	}
	a.Close()
	a.Close()
	b.Close()
	if s.adm.open != 0 || len(s.adm.perIP) != 0 {
		t.Errorf("after closing: open %d, per IP %v", s.adm.open, s.adm.perIP)
	}
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// The accept bucket admits its burst and then refuses, and a reload that
// changes accept_rate retunes the bucket without refilling it: a reload
// must not hand a connection flood a fresh burst. The rates are a token
// per 500-1000 s, so nothing refills while the test runs.
func TestAdmissionAcceptRateAcrossReload(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	admits := func(s *socket, l connLimits, n int) (admitted int) {
		for range n {
			if _, reason := s.adm.admit(s, c1, l, false); reason < 0 {
				admitted++
			} else if reason != refusedAcceptRate {
				t.Fatalf("refused for reason %d, want refusedAcceptRate", reason)
			}
		}
		return admitted
	}

	s := &socket{}
	if got := admits(s, connLimits{rate: 0.001, burst: 3}, 5); got != 3 {
		t.Errorf("burst 3: %d of 5 admitted, want 3", got)
	}
	if got := admits(s, connLimits{rate: 0.002, burst: 5}, 3); got != 0 {
		t.Errorf("after a reload to burst 5: %d admitted from an empty bucket, want 0", got)
	}

	s = &socket{}
	if got := admits(s, connLimits{rate: 0.001, burst: 3}, 1); got != 1 {
		t.Fatalf("burst 3: first connection refused")
	}
	if got := admits(s, connLimits{rate: 0.001, burst: 1}, 3); got != 1 {
		t.Errorf("2 tokens left, reload to burst 1: %d admitted, want 1", got)
	}
}
