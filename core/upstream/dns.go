package upstream

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// With dns.refresh set, a target named by host name stands for every
// address the name resolves to (A and AAAA): each becomes a target of its
// own, with its own health and load, keeping the name as its Host header
// and TLS server name. The name is resolved again every refresh interval;
// targets whose address stays keep their state. A name that does not
// resolve keeps its previous addresses (or, at first, the name itself,
// left to the dialer), so a DNS outage never empties an upstream.

// dnsTimeout bounds one resolution.
const dnsTimeout = 5 * time.Second

// resolveAll expands the configured targets into resolved ones. prev maps
// target keys to the targets of the current set, to keep their state.
func (u *Upstream) resolveAll(configured []*Target) []*Target {
	prev := map[string]*Target{}
	if s := u.set.Load(); s != nil {
		for _, t := range s.targets {
			prev[t.key] = t
		}
	}
	var out []*Target
	for _, ct := range configured {
		host, port, err := net.SplitHostPort(ct.URL.Host)
		if err != nil {
			host = ct.URL.Host
			port = map[string]string{"http": "80", "https": "443"}[ct.URL.Scheme]
		}
		if _, err := netip.ParseAddr(host); err == nil {
			out = append(out, keep(prev, ct))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
		addrs, err := u.lookup(ctx, host)
		cancel()
		if err != nil || len(addrs) == 0 {
			kept := false
			for _, t := range prev {
				if t.Host == ct.Host && t.URL.Scheme == ct.URL.Scheme && t.URL.Path == ct.URL.Path {
					out, kept = append(out, t), true
				}
			}
			if !kept {
				out = append(out, keep(prev, ct))
			}
			continue
		}
		slices.Sort(addrs)
		for _, a := range slices.Compact(addrs) {
			ru := *ct.URL
			ru.Host = net.JoinHostPort(a, port)
			t := newTarget(&ru, ct.Host, ct.Weight)
			if ru.Scheme == "https" && u.transport.TLSClientConfig.ServerName == "" && !native(u.cfg) {
				t.transport = u.namedTransport(host)
			}
			out = append(out, keep(prev, t))
		}
	}
	return out
}

func keep(prev map[string]*Target, t *Target) *Target {
	if o := prev[t.key]; o != nil && o.Host == t.Host && o.Weight == t.Weight {
		return o
	}
	return t
}

// namedTransport is a clone of the upstream's transport that sends and
// verifies name in TLS, for resolved https targets: their URL holds an
// address. One per name, reused across refreshes.
func (u *Upstream) namedTransport(name string) *http.Transport {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.named == nil {
		u.named = map[string]*http.Transport{}
	}
	if t := u.named[name]; t != nil {
		return t
	}
	t := u.transport.Clone()
	t.TLSClientConfig.ServerName = name
	u.named[name] = t
	return t
}

// RefreshDNS resolves the target names again and swaps in the new set if
// the addresses changed. The background loop calls it every dns.refresh.
func (u *Upstream) RefreshDNS(context.Context) {
	configured := make([]*Target, 0, len(u.cfg.Targets))
	for _, tc := range u.cfg.Targets {
		t, err := parseTarget(tc)
		if err != nil {
			return // validated at New; cannot happen
		}
		configured = append(configured, t)
	}
	next := u.resolveAll(configured)
	cur := u.set.Load().targets
	if slices.Equal(next, cur) {
		return
	}
	u.mu.Lock()
	if !u.closed {
		u.setTargets(next)
		u.notify()
	}
	u.mu.Unlock()
}
