package server

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/core/config"
)

// Info describes the listener a request arrived on. It is immutable: a
// reload stores a new Info, so a handler holding one sees a consistent view.
type Info struct {
	Name    string // config name (the address when none was given)
	Address string // as configured
	TLS     bool   // the listener terminates TLS; r.TLS carries the details
	// MaxHeaderCount caps a request's header field lines (0: no cap). The
	// handler enforces it, so that h2 and HTTP/1.1 refuse alike with the
	// gateway's error shape; net/http bounds only their bytes.
	MaxHeaderCount int
	trusted        []netip.Prefix
	limits         connLimits // limits.go
}

// Trusts reports whether addr is one of the listener's trusted proxies, whose
// X-Forwarded-*/Forwarded headers may be kept. IPv4-mapped IPv6 addresses
// count as IPv4, as a dual-stack socket reports them that way.
func (i *Info) Trusts(addr netip.Addr) bool {
	if i == nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range i.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Client is who sent r as this listener judges it, and whether the TCP peer
// is a trusted proxy (whose forwarding headers the proxy then extends rather
// than replaces). An untrusted peer is the client, whatever it claims. Behind
// trusted proxies the client is the rightmost X-Forwarded-For address that
// is not itself a trusted proxy: each trusted hop appended the address it
// saw, while entries further left are whatever the client chose to send. A
// malformed hop stops the walk at the peer, since nothing beyond it can be
// attributed to a proxy we trust.
func (i *Info) Client(r *http.Request) (client netip.Addr, peerTrusted bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	peer := ap.Addr().Unmap()
	if !i.Trusts(peer) {
		return peer, false
	}
	xff := r.Header["X-Forwarded-For"]
	for j := len(xff) - 1; j >= 0; j-- {
		list := xff[j]
		for list != "" {
			var last string
			if k := strings.LastIndexByte(list, ','); k >= 0 {
				last, list = list[k+1:], list[:k]
			} else {
				last, list = list, ""
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(last))
			if err != nil {
				return peer, true
			}
			if addr = addr.Unmap(); !i.Trusts(addr) {
				return addr, true
			}
		}
	}
	return peer, true
}

type infoKey struct{}

// ListenerFrom returns the Info of the listener a request arrived on, or nil
// for a context that did not come from this package. It loads the current
// Info on every call (one atomic load), so a reload's new trusted proxies
// apply to the next request even on a connection opened before the reload.
func ListenerFrom(ctx context.Context) *Info {
	p, _ := ctx.Value(infoKey{}).(*atomic.Pointer[Info])
	if p == nil {
		return nil
	}
	return p.Load()
}

func newInfo(name string, c config.Listener) *Info {
	trusted := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, p := range c.TrustedProxies {
		if p.IsValid() {
			trusted = append(trusted, p.Masked())
		}
	}
	return &Info{Name: name, Address: c.Address, TLS: c.TLS != nil, MaxHeaderCount: c.MaxHeaderCount, trusted: trusted, limits: limitsOf(c)}
}
