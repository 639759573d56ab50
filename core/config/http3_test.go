package config

import (
	"testing"
	"time"
)

func TestHTTP3Shorthand(t *testing.T) {
	c := mustParse(t, `
listeners:
  - address: ":8443"
    tls: {certificates: [{cert: a.pem, key: a.key}]}
    http3: true
  - address: ":9443"
    tls: {certificates: [{cert: a.pem, key: a.key}]}
    http3: {max_streams: 20, idle_timeout: 5s, receive_buffer: 1MiB}
  - address: ":10443"
    tls: {certificates: [{cert: a.pem, key: a.key}]}
    http3: false
  - address: ":11443"
    tls: {certificates: [{cert: a.pem, key: a.key}]}
    http3: {enabled: false}
  - address: ":8080"
`, nil)
	h := c.Listeners[0].HTTP3
	if !h.On() || h.MaxStreams != defaultHTTP3MaxStreams || h.IdleTimeout.D() != defaultHTTP3IdleTimeout ||
		h.HandshakeTimeout.D() != defaultHTTP3HandshakeTimeout || h.ReceiveBuffer != defaultHTTP3Buffer ||
		h.SendBuffer != defaultHTTP3Buffer || h.Allow0RTT || h.AltSvcMaxAge.D() != 24*time.Hour {
		t.Errorf("http3: true = %+v, want on with the defaults", *h)
	}
	h = c.Listeners[1].HTTP3
	if !h.On() || h.MaxStreams != 20 || h.IdleTimeout.D() != 5*time.Second || h.ReceiveBuffer != 1<<20 || h.SendBuffer != defaultHTTP3Buffer {
		t.Errorf("http3 block = %+v, want on, 20 streams, 5s idle, 1MiB receive buffer, default send buffer", *h)
	}
	for _, i := range []int{2, 3, 4} {
		if c.Listeners[i].HTTP3.On() {
			t.Errorf("listeners[%d].http3 is on, want off", i)
		}
	}
}

func TestHTTP3Errors(t *testing.T) {
	got := parseErrs(t, `
listeners:
  - address: ":8080"
    http3: true
  - address: ":8443"
    tls: {certificates: [{cert: a.pem, key: a.key}]}
    http3: yes please
  - address: ":9443"
    tls: {certificates: [{cert: a.pem, key: a.key}]}
    http3: {max_streams: 5, alt_svc_max_age: 10s, zero_rtt: true}
  - address: ":9080"
    http3: {enabled: false}
`, nil)
	wantErrs(t, got,
		`gw.yaml:3:5: listeners[0].http3: HTTP/3 runs over QUIC, which is always encrypted, and this listener has no tls; add tls certificates to it or remove http3`,
		`gw.yaml:6:12: listeners[1].http3: expected true, false or a block of settings, got "yes please"`,
		`gw.yaml:9:51: listeners[2].http3.zero_rtt: unknown field "zero_rtt"; valid fields: allow_0rtt, alt_svc_max_age, enabled, handshake_timeout, idle_timeout, max_streams, receive_buffer, send_buffer`,
	)
	got = parseErrs(t, `
listeners:
  - address: ":8080"
    http3: true
  - address: ":9443"
    tls: {certificates: [{cert: a.pem, key: a.key}]}
    http3: {max_streams: -1, receive_buffer: 2GiB, alt_svc_max_age: 10ms}
  - address: ":9080"
    http3: {enabled: false}
`, nil)
	wantErrs(t, got,
		`gw.yaml:3:5: listeners[0].http3: HTTP/3 runs over QUIC, which is always encrypted, and this listener has no tls; add tls certificates to it or remove http3`,
		`gw.yaml:6:13: listeners[1].http3.max_streams: -1 is negative; use a positive number (0 means the default)`,
		`gw.yaml:6:30: listeners[1].http3.receive_buffer: 2147483648 bytes is more than 1GiB; UDP buffers are usually a few MiB, e.g. 7MiB`,
		`gw.yaml:6:52: listeners[1].http3.alt_svc_max_age: 10ms is under a second, and Alt-Svc counts whole seconds; use e.g. 1h or 24h`,
	)
}
