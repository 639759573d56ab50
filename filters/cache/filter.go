package cache

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Filter is one route's cache.
type Filter struct {
	route     string
	store     Store
	keys      keyer
	flights   *flights // nil: coalescing off
	rules     storeRules
	maxObject int64
	maxTTL    time.Duration
	keepStale time.Duration
	xcache    bool
	now       func() time.Time
	m         *metrics
	logger    *slog.Logger
	bg        *background // nil: stale-while-revalidate revalidates inline
}

// answeredState is the state of every exchange the cache answered: the
// response phase has nothing to do for it.
var answeredState = &state{answered: true}

// stateKey is the exchange key of a filter's per-exchange state.
type stateKey struct{ f *Filter }

// state is what OnRequest learned, for the response phase.
type state struct {
	key      string // primary key
	entryKey string // where the entry is or will be stored
	varyMiss bool   // the marker was found, the variant was not
	entry    *Entry // the stale entry being revalidated or kept for stale-if-error
	lead     *flight
	leadKey  string
	// clientCond holds the client's own conditionals while the request
	// carries the cache's (a revalidation).
	clientCond   http.Header
	revalidating bool
	fwd          string // Cache-Status fwd: uri-miss, vary-miss, stale, request, method
	requestTime  time.Time
	noStore      bool // the request said no-store, or the route cannot store it (HEAD)
	invalidate   bool // an unsafe method: a success invalidates key

	// The response being stored, filled as its body passes.
	pending    *Entry
	pendingTTL time.Duration
	marker     *Entry
	filling    bool
	declared   int64
	answered   bool // the cache answered; the response phase leaves it be
	bypass     bool // not cacheable (key_by_consumer without a consumer)
}

// OnRequest answers from the store when it can; otherwise it prepares the
// forward: a revalidation (the cache's own conditionals) or a miss, led or
// coalesced.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	r := x.Request
	head := r.Method == http.MethodHead
	if r.Method != http.MethodGet && !head {
		if unsafeMethod(r.Method) {
			if key, ok := f.keys.primary(r, consumerOf(x)); ok {
				x.Set(stateKey{f}, &state{key: key, invalidate: true})
			}
		}
		f.m.bypass.Inc()
		return nil
	}
	var reqCC directives
	if r.Header["Cache-Control"] != nil {
		reqCC = parseCacheControl(r.Header)
	} else {
		reqCC = noDirectives
		if pragmaNoCache(r.Header) {
			reqCC.noCache = true
		}
	}
	key, ok := f.keys.primary(r, consumerOf(x))
	if !ok {
		f.m.bypass.Inc()
		x.Set(stateKey{f}, &state{bypass: true})
		return nil
	}
	// The state stays on the stack until the request is known to go on: a
	// hit allocates none.
	first := state{key: key, noStore: reqCC.noStore || head, requestTime: f.now()}
	if e := f.lookup(r.Context(), &first, r.Header); e != nil {
		if resp := f.reuse(x, &first, e, reqCC, false); resp != nil {
			x.Set(stateKey{f}, answeredState)
			return resp
		}
	}
	st := new(state)
	*st = first
	x.Set(stateKey{f}, st)
	if reqCC.onlyIfCached {
		st.answered = true
		f.m.miss.Inc()
		resp := filter.Error(http.StatusGatewayTimeout, "only-if-cached: no usable response is stored")
		resp.Header["Cache-Status"] = []string{"wasmgate; fwd=" + st.fwd + "; detail=only-if-cached"}
		return resp
	}
	if st.noStore || f.flights == nil {
		f.prepareForward(x, st)
		return nil
	}
	fl, lead := f.flights.join(st.leadKeyFor())
	switch {
	case lead:
		st.lead, st.leadKey = fl, st.leadKeyFor()
	case fl != nil && f.flights.wait(r.Context(), fl):
		if e := f.lookup(r.Context(), st, r.Header); e != nil {
			if resp := f.reuse(x, st, e, reqCC, true); resp != nil {
				return resp
			}
		}
	}
	f.prepareForward(x, st)
	return nil
}

// leadKeyFor is the key a miss coalesces on: the variant when the marker
// is known, else the primary key.
func (st *state) leadKeyFor() string {
	if st.entryKey != "" {
		return st.entryKey
	}
	return st.key
}

// lookup finds the entry for the request: the one at the primary key, or
// the variant its marker selects. It records what it found in st.
func (f *Filter) lookup(ctx context.Context, st *state, h http.Header) *Entry {
	st.entryKey, st.varyMiss, st.fwd = "", false, "uri-miss"
	e, _ := f.store.Get(ctx, st.key)
	if e == nil {
		return nil
	}
	if e.Vary == nil {
		st.entryKey = st.key
		return e
	}
	st.entryKey = variant(st.key, e.Vary, h)
	v, _ := f.store.Get(ctx, st.entryKey)
	if v == nil || v.Vary != nil {
		st.varyMiss, st.fwd = true, "vary-miss"
		return nil
	}
	return v
}

// reuse answers from e when the entry may be used for this request (RFC
// 9111 §4.2, §4.2.4 and the request's directives), and otherwise keeps it
// in st for a revalidation or stale-if-error; it then returns nil.
func (f *Filter) reuse(x *filter.Exchange, st *state, e *Entry, reqCC directives, collapsed bool) *filter.Response {
	now := f.now()
	age := e.age(now)
	left := e.Lifetime - age // freshness left; negative once stale
	fresh := left > 0
	if reqCC.maxAge >= 0 && age > reqCC.maxAge {
		fresh = false
	}
	if reqCC.minFresh >= 0 && left < reqCC.minFresh {
		fresh = false
	}
	switch {
	case reqCC.noCache:
		st.fwd = "request"
	case fresh:
		f.m.hit.Inc()
		status := "wasmgate; hit; ttl=" + strconv.FormatInt(int64(left/time.Second), 10)
		if collapsed {
			status += "; collapsed"
		}
		return f.answer(x, st, e, age, status, "HIT")
	case !e.Revalidate && left <= 0 && (reqCC.anyMaxStale || reqCC.maxStale >= 0 && -left <= reqCC.maxStale):
		f.m.stale.Inc()
		return f.answer(x, st, e, age, "wasmgate; hit; ttl="+strconv.FormatInt(int64(left/time.Second), 10)+"; detail=max-stale", "STALE")
	case left <= 0 && -left < e.SWR && f.bg != nil && x.Request.Method == http.MethodGet:
		f.bg.start(f, x, st, e)
		f.m.stale.Inc()
		return f.answer(x, st, e, age, "wasmgate; hit; ttl="+strconv.FormatInt(int64(left/time.Second), 10)+"; detail=stale-while-revalidate", "STALE")
	default:
		st.fwd = "stale"
	}
	st.entry = e
	return nil
}

// prepareForward sends the request on: with the entry's validators in
// place of the client's conditionals when there is an entry to revalidate.
func (f *Filter) prepareForward(x *filter.Exchange, st *state) {
	e := st.entry
	r := x.Request
	if e == nil || st.noStore && r.Method == http.MethodHead {
		return
	}
	etag, lm := e.etag(), e.lastModified()
	if etag == "" && lm == "" {
		return
	}
	st.revalidating = true
	st.clientCond = http.Header{}
	for _, k := range conditionals {
		if v := r.Header[k]; v != nil {
			st.clientCond[k] = v
			delete(r.Header, k)
		}
	}
	if etag != "" {
		r.Header["If-None-Match"] = []string{etag}
	}
	if lm != "" {
		r.Header["If-Modified-Since"] = []string{lm}
	}
}

var conditionals = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"}

// answer makes the response from e: 304 when the request's conditionals
// match it, else the stored response (headers only for HEAD).
func (f *Filter) answer(x *filter.Exchange, st *state, e *Entry, age time.Duration, cacheStatus, xcache string) *filter.Response {
	st.answered = true
	// The entry's values are shared, capped at their length so that an
	// append by a later filter copies; filters replace values, never edit
	// them in place.
	h := make(http.Header, len(e.Header)+3)
	for k, v := range e.Header {
		h[k] = v[:len(v):len(v)]
	}
	h["Age"] = []string{strconv.FormatInt(int64(min(age, maxDelta)/time.Second), 10)}
	h["Cache-Status"] = []string{cacheStatus}
	if f.xcache {
		h["X-Cache"] = []string{xcache}
	}
	cond := x.Request.Header
	if st.clientCond != nil {
		cond = st.clientCond
	}
	if e.Status == http.StatusOK && notModified(cond, e.etag(), e.lastModified()) {
		for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Range", "Transfer-Encoding"} {
			delete(h, k)
		}
		return &filter.Response{Status: http.StatusNotModified, Header: h, Body: []byte{}, Local: true}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(e.Body))}
	if x.Request.Method != http.MethodHead {
		f.m.bytesServed.Add(uint64(len(e.Body)))
	}
	return &filter.Response{Status: e.Status, Header: h, Body: e.Body, Local: true}
}

// OnResponse refreshes a revalidated entry, serves a stale one when the
// upstream fails within stale-if-error, and decides whether the response
// is stored.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	st, _ := x.Value(stateKey{f}).(*state)
	if st == nil || st.answered {
		return nil
	}
	resp := x.Response
	if st.bypass {
		if resp != nil && resp.Header != nil {
			resp.Header["Cache-Status"] = append(resp.Header["Cache-Status"], "wasmgate; fwd=bypass")
			if f.xcache {
				resp.Header["X-Cache"] = []string{"BYPASS"}
			}
		}
		return nil
	}
	if st.invalidate {
		if resp != nil && !resp.Local && resp.Status >= 200 && resp.Status < 400 {
			// RFC 9111 §4.4: a successful unsafe request invalidates the URI.
			_, _ = f.store.Purge(context.Background(), st.key, false)
		}
		return nil
	}
	if resp == nil {
		f.land(st)
		return nil
	}
	now := f.now()
	if e := st.entry; e != nil {
		if st.revalidating && resp.Status == http.StatusNotModified && !resp.Local {
			return f.refresh(x, st, e, resp, now)
		}
		if serverError(resp.Status) {
			if age := e.age(now); age < e.Lifetime+e.SIE && !e.Revalidate {
				f.land(st)
				f.m.stale.Inc()
				status := "wasmgate; fwd=stale; fwd-status=" + strconv.Itoa(resp.Status) +
					"; ttl=" + strconv.FormatInt(int64((e.Lifetime-age)/time.Second), 10) + "; detail=stale-if-error"
				return f.answer(x, st, e, age, status, "STALE")
			}
		}
	}
	f.m.miss.Inc()
	cacheStatus := "wasmgate; fwd=" + st.fwd
	xc := "MISS"
	if st.fwd == "request" {
		xc = "BYPASS"
	}
	if !resp.Local && !st.noStore && f.prepareStore(x, st, resp, now) {
		cacheStatus += "; stored"
	} else if !st.filling {
		f.land(st)
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if st.fwd != "uri-miss" || resp.Status != http.StatusOK {
		cacheStatus += "; fwd-status=" + strconv.Itoa(resp.Status)
	}
	resp.Header["Cache-Status"] = append(resp.Header["Cache-Status"], cacheStatus)
	if f.xcache {
		resp.Header["X-Cache"] = []string{xc}
	}
	return nil
}

// refresh applies a 304 to the stored entry, stores the result and
// answers the client from it.
func (f *Filter) refresh(x *filter.Exchange, st *state, e *Entry, resp *filter.Response, now time.Time) *filter.Response {
	n, ttl := f.refreshed(x.Request, e, resp.Header, st.requestTime, now)
	if ttl > 0 && !st.noStore {
		_ = f.store.Set(context.Background(), st.entryKey, n, ttl)
	} else {
		_, _ = f.store.Purge(context.Background(), st.entryKey, false)
	}
	f.land(st)
	f.m.revalidated.Inc()
	status := "wasmgate; fwd=stale; fwd-status=304; ttl=" + strconv.FormatInt(int64((n.Lifetime-n.InitialAge)/time.Second), 10)
	return f.answer(x, st, n, n.InitialAge, status, "REVALIDATED")
}

// refreshed is e updated by a 304's header (RFC 9111 §4.3.4): the 304's
// fields replace the stored ones, and freshness starts again from the
// 304's arrival. ttl is 0 when the result may no longer be stored.
func (f *Filter) refreshed(req *http.Request, e *Entry, notModified http.Header, requestTime, now time.Time) (*Entry, time.Duration) {
	n := *e
	n.Header = refreshHeader(e.Header, notModified)
	cc := parseCacheControl(n.Header)
	date := dateOf(notModified, now)
	fr := freshnessOf(n.Status, n.Header, cc, date, f.rules.defaultTTL)
	n.ResponseTime = now
	n.InitialAge = initialAge(notModified, date, requestTime, now)
	n.Lifetime, n.SWR, n.SIE, n.Revalidate = fr.lifetime, fr.swr, fr.sie, fr.revalidate
	if storability(req, noDirectives, n.Status, n.Header, cc, fr, f.rules) != storable {
		return &n, 0
	}
	return &n, f.ttl(&n)
}

// noDirectives is an absent Cache-Control.
var noDirectives = directives{maxAge: -1, sMaxAge: -1, staleWhileRevalidate: -1, staleIfError: -1, maxStale: -1, minFresh: -1}

// entryOf is the entry (without its body) a response to req would be
// stored as, and how long; nil when it may not be stored.
func (f *Filter) entryOf(req *http.Request, status int, h http.Header, requestTime, now time.Time) (*Entry, time.Duration) {
	cc := parseCacheControl(h)
	date := dateOf(h, now)
	fr := freshnessOf(status, h, cc, date, f.rules.defaultTTL)
	if storability(req, noDirectives, status, h, cc, fr, f.rules) != storable {
		return nil, 0
	}
	e := &Entry{
		Status:       status,
		Header:       storedHeader(h, true),
		ResponseTime: now,
		InitialAge:   initialAge(h, date, requestTime, now),
		Lifetime:     fr.lifetime,
		SWR:          fr.swr,
		SIE:          fr.sie,
		Revalidate:   fr.revalidate,
	}
	ttl := f.ttl(e)
	if ttl <= 0 {
		return nil, 0
	}
	return e, ttl
}

// prepareStore decides whether resp is stored. A response without a body
// is stored at once; one with a body is filled as it streams
// (OnResponseBody). It reports whether the response is, or will be once
// its body arrives, stored.
func (f *Filter) prepareStore(x *filter.Exchange, st *state, resp *filter.Response, now time.Time) bool {
	declared := int64(-1)
	if v := resp.Header.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return false
		}
		declared = n
	}
	if declared > f.maxObject {
		return false // streams through unstored
	}
	e, ttl := f.entryOf(x.Request, resp.Status, resp.Header, st.requestTime, now)
	if e == nil {
		return false
	}
	st.entryKey = st.key
	if names := varyNames(resp.Header); names != nil {
		st.marker = &Entry{Status: http.StatusOK, Vary: names, ResponseTime: now}
		st.entryKey = variant(st.key, names, x.Request.Header)
	}
	st.pending, st.pendingTTL, st.declared = e, ttl, declared
	if declared == 0 || !bodyAllowed(resp.Status) || resp.Body != nil && len(resp.Body) == 0 {
		e.Body = []byte{}
		f.commit(st)
		return true
	}
	st.filling = true
	e.Body = make([]byte, 0, max(declared, 0))
	return declared >= 0 // unknown length: it may yet prove too large
}

// ttl is how long a store keeps e: its freshness, the stale time it may
// still be served for, and keep_stale for entries with validators, within
// max_ttl.
func (f *Filter) ttl(e *Entry) time.Duration {
	ttl := e.Lifetime - e.InitialAge + max(e.SWR, e.SIE)
	if e.etag() != "" || e.lastModified() != "" {
		ttl = max(ttl, e.Lifetime-e.InitialAge+f.keepStale)
	}
	return min(ttl, f.maxTTL)
}

// OnResponseBody copies the body into the pending entry as it passes, up
// to max_object_size; past it the entry is dropped and the body streams on.
func (f *Filter) OnResponseBody(x *filter.Exchange, b *filter.Body) (filter.BodyAction, *filter.Response) {
	st, _ := x.Value(stateKey{f}).(*state)
	if st == nil || !st.filling {
		return filter.BodyContinue, nil
	}
	e := st.pending
	if int64(len(e.Body)+len(b.Buf)) > f.maxObject {
		st.filling, st.pending = false, nil
		f.land(st)
		return filter.BodyContinue, nil
	}
	e.Body = append(e.Body, b.Buf...)
	if b.End {
		st.filling = false
		if st.declared < 0 || int64(len(e.Body)) == st.declared {
			f.commit(st)
		}
		f.land(st)
	}
	return filter.BodyContinue, nil
}

// commit stores the pending entry (and its Vary marker).
func (f *Filter) commit(st *state) {
	ctx := context.Background()
	if st.marker != nil {
		_ = f.store.Set(ctx, st.key, st.marker, f.maxTTL)
	}
	if err := f.store.Set(ctx, st.entryKey, st.pending, st.pendingTTL); err == nil {
		f.m.stored.Inc()
		f.m.bytesStored.Add(uint64(len(st.pending.Body)))
	}
	st.pending = nil
}

// land ends the flight this exchange leads, if any.
func (f *Filter) land(st *state) {
	if st.lead != nil {
		f.flights.land(st.leadKey, st.lead)
		st.lead = nil
	}
}

// OnDone lands a flight whose response never finished (the upstream
// failed mid-body, or the client left): its waiters go on their own.
func (f *Filter) OnDone(x *filter.Exchange) {
	if st, _ := x.Value(stateKey{f}).(*state); st != nil {
		f.land(st)
	}
}

// Needs: the response body streams past the filter, which copies what it
// may store; it never buffers.
func (f *Filter) Needs() filter.Needs { return filter.Needs{StreamResponseBody: true} }

func consumerOf(x *filter.Exchange) string {
	if x.Consumer != nil {
		return x.Consumer.Name
	}
	return ""
}

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

func pragmaNoCache(h http.Header) bool {
	for _, v := range h["Pragma"] {
		if strings.Contains(strings.ToLower(v), "no-cache") {
			return true
		}
	}
	return false
}

func serverError(status int) bool {
	switch status {
	case 500, 502, 503, 504:
		return true
	}
	return false
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

var (
	_ filter.Filter             = (*Filter)(nil)
	_ filter.ResponseFilter     = (*Filter)(nil)
	_ filter.ResponseBodyFilter = (*Filter)(nil)
	_ filter.DoneFilter         = (*Filter)(nil)
	_ filter.BodyFilter         = (*Filter)(nil)
	_ io.Closer                 = Store(nil)
)
