package server

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

// Client is the one place a request's client address is derived: only a
// trusted peer may name another, and only hops that trusted proxies added
// count (anything further left is the client's own word).
func TestInfoClient(t *testing.T) {
	info := newInfo("x", config.Listener{TrustedProxies: trusted("127.0.0.0/8", "192.0.2.0/24")})
	tests := []struct {
		name    string
		info    *Info
		remote  string
		xff     []string
		want    string // "" for the zero Addr
		trusted bool
	}{
		{"untrusted peer ignores XFF", info, "203.0.113.9:1234", []string{"1.2.3.4"}, "203.0.113.9", false},
		{"no listener info trusts nobody", nil, "127.0.0.1:1234", []string{"1.2.3.4"}, "127.0.0.1", false},
		{"trusted peer without XFF", info, "127.0.0.1:1234", nil, "127.0.0.1", true},
		{"trusted peer names the client", info, "127.0.0.1:1234", []string{"1.2.3.4"}, "1.2.3.4", true},
		{"rightmost untrusted hop wins", info, "127.0.0.1:1234", []string{"6.6.6.6, 1.2.3.4, 192.0.2.9"}, "1.2.3.4", true},
		{"later header lines are nearer", info, "127.0.0.1:1234", []string{"6.6.6.6", "1.2.3.4,192.0.2.9"}, "1.2.3.4", true},
		{"malformed hop stops at the peer", info, "127.0.0.1:1234", []string{"1.2.3.4, junk"}, "127.0.0.1", true},
		{"every hop trusted", info, "127.0.0.1:1234", []string{"192.0.2.5, 192.0.2.6"}, "127.0.0.1", true},
		{"mapped peer counts as IPv4", info, "[::ffff:127.0.0.1]:1234", []string{" ::ffff:1.2.3.4 "}, "1.2.3.4", true},
		{"IPv6 hop", info, "127.0.0.1:1234", []string{"2001:db8::7"}, "2001:db8::7", true},
		{"no peer address", info, "", []string{"1.2.3.4"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			if tt.xff != nil {
				r.Header["X-Forwarded-For"] = tt.xff
			}
			got, trusted := tt.info.Client(r)
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want || trusted != tt.trusted {
				t.Errorf("Client = %v, %v; want %v, %v", got, trusted, want, tt.trusted)
			}
		})
	}
}
