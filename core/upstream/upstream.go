// Package upstream holds the backends routes forward to: targets, how one is
// picked for each request, and the tuned transport used to reach them.
package upstream

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// Target is one backend address.
type Target struct {
	URL    *url.URL // scheme and host; Path is a base path prefixed to every request
	Host   string   // URL.Host, the Host header sent unless the route preserves the client's
	Weight int
}

// Upstream is a named, immutable group of targets with a balancer and a
// transport. It is safe for concurrent use.
type Upstream struct {
	Name      string
	Targets   []*Target
	balancer  balancer
	transport *http.Transport
	timeouts  config.UpstreamTimeouts
}

// balancer picks the target for one request.
type balancer interface {
	pick() *Target
}

// New builds an upstream from its (defaulted, validated) config.
func New(name string, c *config.Upstream) (*Upstream, error) {
	u := &Upstream{Name: name, timeouts: c.Timeouts}
	for i, tc := range c.Targets {
		t, err := parseTarget(tc)
		if err != nil {
			return nil, config.FieldErr(fmt.Sprintf("targets[%d].url", i), "%v", err)
		}
		u.Targets = append(u.Targets, t)
	}
	if len(u.Targets) == 0 {
		return nil, config.FieldErr("targets", "an upstream needs at least one target")
	}
	switch c.Balancer {
	case "", "round_robin", "weighted":
		u.balancer = newSmoothWeighted(u.Targets)
	default:
		return nil, config.FieldErr("balancer", "unknown balancer %q; valid: round_robin, weighted", c.Balancer)
	}
	u.transport = newTransport(c)
	return u, nil
}

func parseTarget(tc config.Target) (*Target, error) {
	u, err := url.Parse(tc.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must be scheme://host:port[/base path], nothing else", tc.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	w := tc.Weight
	if w <= 0 {
		w = 1
	}
	return &Target{URL: u, Host: u.Host, Weight: w}, nil
}

// Pick returns the target for the next request.
func (u *Upstream) Pick() *Target { return u.balancer.pick() }

// Transport returns the upstream's transport, shared by all its targets.
func (u *Upstream) Transport() http.RoundTripper { return u.transport }

// Close releases idle connections; in-flight requests are not affected.
func (u *Upstream) Close() { u.transport.CloseIdleConnections() }

// newTransport tunes an http.Transport for proxying: a keep-alive pool sized
// for load, every timeout set, no proxy from the environment, no transparent
// decompression (bodies pass through as the upstream sent them).
func newTransport(c *config.Upstream) *http.Transport {
	dialer := &net.Dialer{Timeout: c.Timeouts.Connect.D(), KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		MaxIdleConns:           0, // bounded per host below
		MaxIdleConnsPerHost:    c.MaxIdlePerTarget,
		IdleConnTimeout:        c.Timeouts.Idle.D(),
		ResponseHeaderTimeout:  c.Timeouts.ResponseHeader.D(),
		TLSHandshakeTimeout:    c.Timeouts.Connect.D(),
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		WriteBufferSize:        32 << 10,
		ReadBufferSize:         32 << 10,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	var p http.Protocols
	switch c.Protocol {
	case "h2c":
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
	case "auto":
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		t.Protocols = &p
	default:
		p.SetHTTP1(true)
		t.Protocols = &p
	}
	return t
}

// smoothWeighted is nginx's smooth weighted round robin, precomputed: the
// pick sequence for one full cycle is built once, so a pick is one atomic
// increment and an index, with no lock and no allocation. With equal weights
// it is plain round robin.
type smoothWeighted struct {
	seq  []*Target
	next atomic.Uint64
}

// maxCycle bounds the precomputed sequence; weights are scaled down to fit.
const maxCycle = 4096

func newSmoothWeighted(targets []*Target) *smoothWeighted {
	weights := make([]int, len(targets))
	total := 0
	for i, t := range targets {
		weights[i] = t.Weight
		total += t.Weight
	}
	if total > maxCycle {
		scale := float64(maxCycle) / float64(total)
		total = 0
		for i := range weights {
			weights[i] = max(1, int(float64(weights[i])*scale))
			total += weights[i]
		}
	}
	current := make([]int, len(targets))
	seq := make([]*Target, 0, total)
	for range total {
		best := 0
		for i := range targets {
			current[i] += weights[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		seq = append(seq, targets[best])
	}
	return &smoothWeighted{seq: seq}
}

func (b *smoothWeighted) pick() *Target {
	n := b.next.Add(1) - 1
	return b.seq[n%uint64(len(b.seq))]
}
