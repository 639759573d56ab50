package gatewaytest

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is an authoritative DNS server on a loopback UDP port, for pointing
// a gateway's dns.resolver at: it answers A and AAAA queries from records
// the test sets and changes, NXDOMAIN for names it does not hold, and
// SERVFAIL for everything while failing. It is stopped when the test ends.
type DNS struct {
	Addr string // ip:port

	conn    net.PacketConn
	mu      sync.Mutex
	records map[string][]netip.Addr // by lower-case name, without the final dot
	failing bool
	queries map[string]int // questions asked, by name
}

// StartDNS starts a DNS server on 127.0.0.1, port 0.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &DNS{Addr: conn.LocalAddr().String(), conn: conn, records: map[string][]netip.Addr{}, queries: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return d
}

// Set makes name resolve to addrs (A for IPv4, AAAA for IPv6), replacing
// what it held.
func (d *DNS) Set(name string, addrs ...netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[canonName(name)] = addrs
}

// Fail makes the server answer every query SERVFAIL (on) or from its
// records again (off).
func (d *DNS) Fail(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failing = on
}

// Queries is how many questions for name the server has been asked.
func (d *DNS) Queries(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[canonName(name)]
}

func canonName(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }

func (d *DNS) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		if resp, ok := d.answer(buf[:n]); ok {
			_, _ = d.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the reply to one query; false for a packet that is not a
// query with a question (dropped, as a server would).
func (d *DNS) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := canonName(q.Name.String())
	d.mu.Lock()
	d.queries[name]++
	addrs, known := d.records[name]
	failing := d.failing
	d.mu.Unlock()

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	switch {
	case failing:
		rh.RCode = dnsmessage.RCodeServerFailure
	case !known:
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if !failing {
		for _, a := range addrs {
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET} // TTL 0: never cached
			switch {
			case q.Type == dnsmessage.TypeA && a.Is4():
				rr.Type = dnsmessage.TypeA
				err = b.AResource(rr, dnsmessage.AResource{A: a.As4()})
			case q.Type == dnsmessage.TypeAAAA && a.Is6() && !a.Is4In6():
				rr.Type = dnsmessage.TypeAAAA
				err = b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
			if err != nil {
				return nil, false
			}
		}
	}
	resp, err := b.Finish()
	return resp, err == nil
}
