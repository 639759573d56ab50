package e2e

import (
	"net/http"
	"strings"
	"testing"
)

const forwardingConfig = `
listeners:
  - address: "{{.listen}}"
  - name: trusted
    address: "127.0.0.1:0"
    trusted_proxies: [127.0.0.1/32]
admin: { address: "{{.admin}}" }
{{.server}}
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }
routes:
  - name: all
    upstream: a
`

func TestForwardingHeaders(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, forwardingConfig, vars{"a": a.URL, "server": ""})
	trusted := g.ListenerAddr("trusted")

	spoof := []string{
		"X-Forwarded-For: 1.2.3.4",
		"X-Real-IP: 1.2.3.4",
		"X-Forwarded-Host: evil.example",
		"X-Forwarded-Proto: https",
		"Forwarded: for=1.2.3.4;proto=https",
	}
	tests := []struct {
		name string
		addr string
		want map[string]string
	}{
		{"untrusted peer: replaced", g.Listen, map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Real-Ip":         "127.0.0.1",
			"X-Forwarded-Host":  g.Listen,
			"X-Forwarded-Proto": "http",
			"Forwarded":         `for=127.0.0.1;host="` + g.Listen + `";proto=http`,
		}},
		{"trusted peer: appended", trusted, map[string]string{
			"X-Forwarded-For":   "1.2.3.4, 127.0.0.1",
			"X-Real-Ip":         "1.2.3.4",
			"X-Forwarded-Host":  "evil.example",
			"X-Forwarded-Proto": "https",
			"Forwarded":         `for=1.2.3.4;proto=https, for=127.0.0.1;host="` + trusted + `";proto=http`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawGet(t, tt.addr, "/", spoof...)
			s := decodeSeen(t, resp.Status, resp.Body)
			for k, want := range tt.want {
				if got := s.Header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("upstream saw %s: %q, want %q", k, got, want)
				}
			}
		})
	}

	// Identity is asserted by the gateway after auth; a client's own
	// X-Consumer-* never reaches an upstream, even on a route with no auth.
	t.Run("spoofed identity", func(t *testing.T) {
		resp := rawGet(t, g.Listen, "/", "X-Consumer-Name: admin", "x-consumer-groups: root", "X-Consumerish: kept")
		s := decodeSeen(t, resp.Status, resp.Body)
		for _, k := range []string{"X-Consumer-Name", "X-Consumer-Groups"} {
			if v := s.Header.Values(k); len(v) > 0 {
				t.Errorf("client-sent %s reached the upstream: %q", k, v)
			}
		}
		if s.Header.Get("X-Consumerish") != "kept" {
			t.Error("a header that only shares the prefix's letters must pass")
		}
	})

	t.Run("hop-by-hop", func(t *testing.T) {
		resp := rawGet(t, g.Listen, "/",
			"Connection: keep-alive, X-Secret",
			"X-Secret: do-not-forward",
			"Keep-Alive: timeout=5",
			"TE: gzip",
			"Proxy-Connection: keep-alive",
			"X-Kept: yes",
		)
		s := decodeSeen(t, resp.Status, resp.Body)
		for _, k := range []string{"X-Secret", "Keep-Alive", "Te", "Proxy-Connection"} {
			if v := s.Header.Values(k); len(v) > 0 {
				t.Errorf("hop-by-hop %s reached the upstream: %q", k, v)
			}
		}
		if c := s.Header.Get("Connection"); strings.Contains(strings.ToLower(c), "x-secret") {
			t.Errorf("upstream saw Connection %q", c)
		}
		if s.Header.Get("X-Kept") != "yes" {
			t.Errorf("an end-to-end header was lost: %v", s.Header)
		}
	})

	t.Run("underscore dropped by default", func(t *testing.T) {
		resp := rawGet(t, g.Listen, "/", "X_User: admin", "X-User: alice")
		s := decodeSeen(t, resp.Status, resp.Body)
		for k := range s.Header {
			if strings.Contains(k, "_") {
				t.Errorf("upstream saw underscore header %s: %q", k, s.Header[k])
			}
		}
		if got := s.Header.Values("X-User"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("upstream saw X-User %q, want [alice]", got)
		}
	})
}

func TestUnderscoreHeadersReject(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, forwardingConfig, vars{
		"a": a.URL, "server": "server: { underscore_headers: reject }",
	})
	resp := rawGet(t, g.Listen, "/", "X_User: admin")
	checkError(t, resp.Status, resp.Header, resp.Body, http.StatusBadRequest)
	if n := a.hits.Load(); n != 0 {
		t.Errorf("a rejected request reached the upstream (%d hits)", n)
	}
	resp = rawGet(t, g.Listen, "/", "X-User: alice")
	decodeSeen(t, resp.Status, resp.Body)
}
