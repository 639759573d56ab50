package config

import (
	"time"
)

// HTTP3 serves HTTP/3 (QUIC, UDP) on a TLS listener's port, beside
// HTTP/1.1 and h2 on TCP, and advertises it to those clients with Alt-Svc.
// Written as `http3: true` for the defaults, or as a block.
type HTTP3 struct {
	// Enabled defaults to true when the block is written; `enabled: false`
	// keeps the block and serves no HTTP/3.
	Enabled *bool `yaml:"enabled"`
	// MaxStreams is how many request streams a client may have open on
	// one QUIC connection at once (default 100).
	MaxStreams int `yaml:"max_streams"`
	// IdleTimeout closes a QUIC connection without traffic (default 30s).
	IdleTimeout Duration `yaml:"idle_timeout"`
	// HandshakeTimeout bounds the QUIC and TLS handshake (default 10s).
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// ReceiveBuffer is the UDP socket's kernel receive buffer (default
	// 7MiB, what quic-go asks for); a kernel that caps it lower
	// (net.core.rmem_max) is logged once.
	ReceiveBuffer Size `yaml:"receive_buffer"`
	// SendBuffer is the UDP socket's kernel send buffer (default 7MiB;
	// capped by net.core.wmem_max).
	SendBuffer Size `yaml:"send_buffer"`
	// Allow0RTT accepts requests in the client's first flight on a resumed
	// connection. Off by default: 0-RTT data can be replayed by an
	// attacker, so only turn it on when every route is safe to replay.
	Allow0RTT bool `yaml:"allow_0rtt"`
	// AltSvcMaxAge is how long clients may remember that the listener
	// speaks HTTP/3 (the Alt-Svc ma parameter; default 24h).
	AltSvcMaxAge Duration `yaml:"alt_svc_max_age"`
}

// HTTP/3 defaults, applied when the block is present.
const (
	defaultHTTP3MaxStreams       = 100
	defaultHTTP3IdleTimeout      = 30 * time.Second
	defaultHTTP3HandshakeTimeout = 10 * time.Second
	defaultHTTP3Buffer           = 7 << 20 // 7MiB
	defaultHTTP3AltSvcMaxAge     = 24 * time.Hour
)

// SetFromBool implements BoolShorthand: `http3: true` is the block with
// its defaults, `http3: false` none.
func (h *HTTP3) SetFromBool(on bool) { h.Enabled = &on }

// On reports whether the listener serves HTTP/3.
func (h *HTTP3) On() bool { return h != nil && (h.Enabled == nil || *h.Enabled) }

var _ BoolShorthand = (*HTTP3)(nil)

func (h *HTTP3) applyDefaults() {
	setBool(&h.Enabled, true)
	if h.MaxStreams == 0 {
		h.MaxStreams = defaultHTTP3MaxStreams
	}
	setDuration(&h.IdleTimeout, defaultHTTP3IdleTimeout)
	setDuration(&h.HandshakeTimeout, defaultHTTP3HandshakeTimeout)
	setSize(&h.ReceiveBuffer, defaultHTTP3Buffer)
	setSize(&h.SendBuffer, defaultHTTP3Buffer)
	setDuration(&h.AltSvcMaxAge, defaultHTTP3AltSvcMaxAge)
}

// maxHTTP3Buffer bounds the UDP buffers: more is a unit typo, and the
// kernel would cap it anyway.
const maxHTTP3Buffer = 1 << 30

// http3 checks listeners[i].http3 (p is "listeners[i]").
func (v *Validator) http3(p string, l Listener) {
	h := l.HTTP3
	if !h.On() {
		return
	}
	p += ".http3"
	if l.TLS == nil {
		v.Errorf(p, "HTTP/3 runs over QUIC, which is always encrypted, and this listener has no tls; add tls certificates to it or remove http3")
	}
	v.NotNegative(p+".max_streams", h.MaxStreams)
	for _, f := range [...]struct {
		name string
		n    Size
	}{{".receive_buffer", h.ReceiveBuffer}, {".send_buffer", h.SendBuffer}} {
		if f.n > maxHTTP3Buffer {
			v.Errorf(p+f.name, "%d bytes is more than 1GiB; UDP buffers are usually a few MiB, e.g. 7MiB", int64(f.n))
		}
	}
	if d := h.AltSvcMaxAge.D(); d > 0 && d < time.Second {
		v.Errorf(p+".alt_svc_max_age", "%s is under a second, and Alt-Svc counts whole seconds; use e.g. 1h or 24h", d)
	}
}
