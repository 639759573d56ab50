package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// errNoAddresses is a name that resolved to no address.
var errNoAddresses = errors.New("the name has no A or AAAA record")

// dnsResolver asks the DNS server at addr (ip:port, validated), over UDP
// and, for truncated answers, TCP, with Go's resolver. Hosts-file entries
// still apply first, as they do for the system's resolver.
func dnsResolver(addr string) *net.Resolver {
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

// lookupWith is r.LookupHost whose errors name addr, the server asked: Go's
// resolver names the one /etc/resolv.conf lists, which Dial never reached.
func lookupWith(r *net.Resolver, addr string) func(ctx context.Context, host string) ([]string, error) {
	return func(ctx context.Context, host string) ([]string, error) {
		addrs, err := r.LookupHost(ctx, host)
		if de, ok := errors.AsType[*net.DNSError](err); ok {
			de.Server = addr
		}
		return addrs, err
	}
}

// dnsState is what the refresh has seen: counters for the status and the
// metrics, and each name's last answer, so that the log says when a name's
// addresses change, when it stops resolving and when it resolves again, once
// each (a failing name is counted on every refresh, logged once).
type dnsState struct {
	lookups  atomic.Uint64 // names looked up
	failures atomic.Uint64 // lookups that failed or found no address
	changes  atomic.Uint64 // refreshes that changed the target set
	lastErr  atomic.Pointer[string]

	mu    sync.Mutex
	names map[string]*nameState
}

type nameState struct {
	addrs   string // as last resolved, sorted, comma-separated
	failing bool
}

// answered files a lookup's outcome and logs what changed. err nil: addrs
// (sorted, deduplicated) is the answer; otherwise kept are the addresses
// the upstream goes on using.
func (u *Upstream) answered(host string, addrs []string, err error, kept []string) {
	u.dns.lookups.Add(1)
	if err != nil {
		u.dns.failures.Add(1)
		msg := host + ": " + err.Error()
		u.dns.lastErr.Store(&msg)
	}
	u.dns.mu.Lock()
	defer u.dns.mu.Unlock()
	if u.dns.names == nil {
		u.dns.names = map[string]*nameState{}
	}
	ns, seen := u.dns.names[host]
	if !seen {
		ns = &nameState{}
		u.dns.names[host] = ns
	}
	switch {
	case err != nil && !ns.failing:
		ns.failing = true
		if len(kept) == 0 {
			u.logger.Warn("upstream DNS: the name does not resolve; the dialer is left to resolve it per connection",
				"upstream", u.Name, "name", host, "err", err.Error())
		} else {
			u.logger.Warn("upstream DNS: the name does not resolve; keeping its last good addresses",
				"upstream", u.Name, "name", host, "err", err.Error(), "kept", strings.Join(kept, ","))
		}
	case err == nil:
		joined := strings.Join(addrs, ",")
		if ns.failing {
			u.logger.Info("upstream DNS: the name resolves again", "upstream", u.Name, "name", host, "addresses", joined)
		} else if seen && joined != ns.addrs {
			u.logger.Info("upstream DNS: the name's addresses changed", "upstream", u.Name, "name", host,
				"addresses", joined, "previous", ns.addrs)
		}
		ns.failing, ns.addrs = false, joined
	}
}

// resolveAll expands the configured targets into resolved ones. prev maps
// target keys to the targets of the current set, to keep their state.
func (u *Upstream) resolveAll(configured []*Target) []*Target {
	prev := map[string]*Target{}
	var cur []*Target
	if s := u.set.Load(); s != nil {
		cur = s.targets
		for _, t := range cur {
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
		if err == nil && len(addrs) == 0 {
			err = errNoAddresses
		}
		if err != nil {
			var kept []string
			for _, t := range cur { // in order: an unchanged set compares equal
				if t.Host == ct.Host && t.URL.Scheme == ct.URL.Scheme && t.URL.Path == ct.URL.Path && t.URL.Host != ct.URL.Host {
					out, kept = append(out, t), append(kept, t.URL.Host)
				}
			}
			if kept == nil {
				out = append(out, keep(prev, ct))
			}
			slices.Sort(kept)
			u.answered(host, nil, err, kept)
			continue
		}
		slices.Sort(addrs)
		addrs = slices.Compact(addrs)
		u.answered(host, addrs, nil, nil)
		for _, a := range addrs {
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
		u.dns.changes.Add(1)
	}
	u.mu.Unlock()
}
