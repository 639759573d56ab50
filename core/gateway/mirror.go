package gateway

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// A route's mirror sends a copy of a share of its requests to a shadow
// upstream, as Envoy's request mirror policy does, and never lets it touch
// the client's exchange:
//
//   - the copy is the request as the upstream receives it (after the
//     chain and the rewrite), with "-shadow" appended to its Host, as
//     Envoy marks shadow traffic, and its own deadline;
//   - it runs in its own goroutine; its answer is read and dropped, a
//     failure (error or 5xx) only counted;
//   - at most max_in_flight copies run per route: past that, a copy is
//     dropped and counted, so a shadow that hangs holds a bounded number
//     of goroutines and bodies until their timeout;
//   - a body up to max_body is read before the primary request goes out,
//     and both get the same bytes; a larger one is not mirrored (counted
//     as skipped), and streams to the primary as it came, after the part
//     read to find out;
//   - which requests are mirrored is decided by a counter, not a coin:
//     of every n requests, floor(n × percent / 100) are.
type mirror struct {
	up      *upstream.Upstream
	proxy   *proxy.Proxy
	perMyr  uint64 // the share in hundredths of a percent, 1 to 10000
	next    atomic.Uint64
	maxBody int64
	timeout time.Duration
	slots   chan struct{}

	ok, failed, dropped, skipped *filter.Counter
}

var mMirror = filter.Metric{Name: "wasmgate.route.mirror.requests", Unit: "{request}",
	Help: "Mirrored copies of a route's requests, by route, shadow upstream and result: ok, failed (error or 5xx), dropped (max_in_flight reached), skipped (body over max_body)."}

func (b *builder) newMirror(rc *config.Route, ups map[string]*upstream.Upstream) *mirror {
	mc := rc.Mirror
	up := ups[mc.Upstream]
	if up == nil {
		return nil // failed to build; already reported
	}
	m := &mirror{
		up:      up,
		perMyr:  10000,
		maxBody: int64(mc.MaxBody),
		timeout: mc.Timeout.D(),
	}
	if mc.Percent != nil {
		m.perMyr = uint64(math.Round(*mc.Percent * 100))
		m.perMyr = min(max(m.perMyr, 1), 10000)
	}
	if m.maxBody == 0 {
		m.maxBody = config.DefaultMirrorMaxBody
	}
	if m.timeout == 0 {
		m.timeout = 10 * time.Second
	}
	// The Host is the client's, with the -shadow suffix (shadowHost).
	m.proxy = proxy.New(proxy.Options{PreserveHost: true, Timeout: m.timeout})
	inFlight := mc.MaxInFlight
	if inFlight == 0 {
		inFlight = config.DefaultMirrorMaxInFlight
	}
	m.slots = make(chan struct{}, inFlight)
	count := func(result string) *filter.Counter {
		if b.meter == nil {
			return new(filter.Counter)
		}
		return b.meter.Counter(mMirror, filter.Label{Key: "route", Value: rc.Name},
			filter.Label{Key: "upstream", Value: mc.Upstream}, filter.Label{Key: "result", Value: result})
	}
	m.ok, m.failed, m.dropped, m.skipped = count("ok"), count("failed"), count("dropped"), count("skipped")
	return m
}

// sampled reports whether the request is one of the share mirrored.
func (m *mirror) sampled() bool {
	if m.perMyr >= 10000 {
		return true
	}
	n := m.next.Add(1)
	return n*m.perMyr/10000 != (n-1)*m.perMyr/10000
}

// send starts the copy of x's request, if it is sampled, has a slot and a
// body within the cap. It may replace the request's body with one that
// gives the primary the same bytes. trusted is as for the primary.
func (m *mirror) send(x *filter.Exchange, trusted bool) {
	if !m.sampled() {
		return
	}
	select {
	case m.slots <- struct{}{}:
	default:
		m.dropped.Inc()
		return
	}
	body, ok := m.takeBody(x)
	if !ok {
		<-m.slots
		m.skipped.Inc()
		return
	}
	r := x.Request
	// The client's cancellation must not reach the copy: it lives on its
	// own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), m.timeout)
	req := r.Clone(ctx) // its own header: the primary's round trip edits r's
	req.Host = shadowHost(r.Host)
	req.Body, req.ContentLength = http.NoBody, 0
	if len(body) > 0 {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	req.Header.Del("Content-Length")
	mx := &filter.Exchange{Request: req, Start: time.Now(), ClientIP: x.ClientIP}
	go func() {
		defer func() {
			cancel()
			<-m.slots
		}()
		resp, perr := m.proxy.RoundTrip(discard{}, mx, m.up, trusted)
		if perr != nil {
			m.failed.Inc()
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			m.failed.Inc()
		} else {
			m.ok.Inc()
		}
	}()
}

// takeBody returns a copy of the request body for the mirror, or ok false
// when it is larger than maxBody or could not be read (the primary then
// meets the same error). A body of unknown length is read up to one byte
// past the cap to tell; what was read goes to the primary first.
func (m *mirror) takeBody(x *filter.Exchange) (body []byte, ok bool) {
	r := x.Request
	if x.RequestBody != nil {
		if int64(len(x.RequestBody)) > m.maxBody {
			return nil, false
		}
		return bytes.Clone(x.RequestBody), true
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true
	}
	if r.ContentLength > m.maxBody {
		return nil, false
	}
	read, err := io.ReadAll(io.LimitReader(r.Body, m.maxBody+1))
	switch {
	case err != nil:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(read), errReader{err}), r.Body}
		return nil, false
	case int64(len(read)) > m.maxBody:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(read), r.Body), r.Body}
		return nil, false
	}
	r.Body = readCloser{bytes.NewReader(read), r.Body}
	r.ContentLength = int64(len(read))
	return bytes.Clone(read), true
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// shadowHost appends "-shadow" to the host, before any port, as Envoy
// marks mirrored requests ("api.example.com:8080" -> "api.example.com-shadow:8080").
func shadowHost(host string) string {
	if h, port, err := net.SplitHostPort(host); err == nil {
		return net.JoinHostPort(h+"-shadow", port)
	}
	return host + "-shadow"
}
