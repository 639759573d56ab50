package cache

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

// background revalidates entries served stale under
// stale-while-revalidate (RFC 5861 §3): the client gets the stale response
// at once, and one request per entry goes to the route's upstream through
// the gateway's own attempt loop (balancer, health, breaker), with the
// entry's validators. Only a route whose target is an upstream has one;
// elsewhere a stale entry is revalidated inline.
type background struct {
	caller  filter.Caller
	rewrite *router.Rewriter
	running *flights      // one revalidation per entry at a time
	slots   chan struct{} // and at most cap(slots) at once per route
	timeout time.Duration
}

const (
	backgroundSlots   = 64
	backgroundTimeout = 30 * time.Second
)

func newBackground(bc *filter.BuildContext, f *Filter) *background {
	if bc.Upstream == nil || bc.Config == nil {
		return nil
	}
	for i := range bc.Config.Routes {
		rc := &bc.Config.Routes[i]
		if rc.Name != bc.Route || rc.Upstream == "" {
			continue
		}
		caller := bc.Upstream(rc.Upstream)
		rw, err := router.NewRewriter(rc.Rewrite, rc.Match)
		if caller == nil || err != nil {
			return nil
		}
		return &background{caller: caller, rewrite: rw, running: newFlights(0, 0),
			slots: make(chan struct{}, backgroundSlots), timeout: backgroundTimeout}
	}
	return nil
}

// start revalidates e in the background unless a revalidation of it is
// already running or the route's slots are all taken. The request is built
// now, from the exchange, which is not kept.
func (b *background) start(f *Filter, x *filter.Exchange, st *state, e *Entry) {
	fl, lead := b.running.join(st.entryKey)
	if !lead {
		return
	}
	select {
	case b.slots <- struct{}{}:
	default:
		b.running.land(st.entryKey, fl)
		return
	}
	r := x.Request
	target := "http://" + r.Host + b.rewrite.Apply(r.URL.EscapedPath(), x.Params)
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		<-b.slots
		b.running.land(st.entryKey, fl)
		return
	}
	req.Host = r.Host
	req.Header = r.Header.Clone()
	for _, k := range conditionals {
		delete(req.Header, k)
	}
	if v := e.etag(); v != "" {
		req.Header["If-None-Match"] = []string{v}
	}
	if v := e.lastModified(); v != "" {
		req.Header["If-Modified-Since"] = []string{v}
	}
	key, entryKey := st.key, st.entryKey
	go func() {
		defer func() {
			<-b.slots
			b.running.land(entryKey, fl)
		}()
		b.revalidate(f, req, key, entryKey, e)
	}()
}

// revalidate makes the request and stores what it learns: a 304 refreshes
// the entry, a storable response replaces it, anything else leaves it.
func (b *background) revalidate(f *Filter, req *http.Request, key, entryKey string, e *Entry) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	requestTime := f.now()
	resp, err := b.caller.Call(ctx, req)
	if err != nil {
		f.logger.Debug("background revalidation failed", "key", entryKey, "err", err)
		return
	}
	defer resp.Body.Close()
	now := f.now()
	if resp.StatusCode == http.StatusNotModified {
		if n, ttl := f.refreshed(req, e, resp.Header, requestTime, now); ttl > 0 {
			_ = f.store.Set(ctx, entryKey, n, ttl)
			f.m.revalidated.Inc()
		}
		return
	}
	n, ttl := f.entryOf(req, resp.StatusCode, resp.Header, requestTime, now)
	if n == nil || resp.ContentLength > f.maxObject || varyNames(resp.Header) != nil && entryKey == key {
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxObject+1))
	if err != nil || int64(len(body)) > f.maxObject {
		return
	}
	n.Body = body
	if f.store.Set(ctx, entryKey, n, ttl) == nil {
		f.m.stored.Inc()
		f.m.bytesStored.Add(uint64(len(body)))
	}
}
