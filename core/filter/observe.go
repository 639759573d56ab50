package filter

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Observer wraps every exchange, routed or not: metrics, traces and access
// logs live behind it (observe/). It is built once per snapshot from
// the config and must be safe for concurrent use. Besides the optional
// interfaces below, an observer may read upstream state by implementing
// upstream.StatusObserver, defined beside that state.
type Observer interface {
	// Begin runs when the gateway has the request, before routing:
	// x.Request, x.Start, x.ClientIP and x.RequestID are set.
	Begin(x *Exchange)
	// End runs after the response was written (or the client left), once
	// the chain's Done phase ran: the exchange's record fields are final.
	End(x *Exchange)
}

// AttemptObserver is implemented by observers that see each upstream attempt
// (retries are separate attempts). The proxy calls AttemptStart just before
// sending, when a.Request's headers may still be edited (trace context), and
// AttemptEnd when the response headers arrived or the attempt failed.
type AttemptObserver interface {
	AttemptStart(x *Exchange, a *Attempt)
	AttemptEnd(x *Exchange, a *Attempt)
}

// Attempt is one try of an exchange against one upstream target.
type Attempt struct {
	Upstream string        // the upstream's config name
	Target   string        // the target's host:port
	N        int           // 1 for the first attempt, 2 for the first retry, ...
	Request  *http.Request // the outbound request
	Start    time.Time
	Duration time.Duration // until the response headers, or the failure
	Status   int           // the upstream's status; 0 if the attempt failed
	// ErrorType is a fixed, low-cardinality cause when the attempt failed:
	// connect, timeout, bad_response, client_gone, client_body.
	ErrorType string
	Err       error
	// Span is the attempt's client span, kept here by the observer.
	Span trace.Span
}

// ConfigObserver is implemented by observers that record config loads. The
// gateway calls ConfigApplied on the observer of a snapshot that went live
// (reload is false for the first), and ConfigRejected on the observer of the
// snapshot still serving when a reload failed. hash is the SHA-256 of the
// config file as written.
type ConfigObserver interface {
	ConfigApplied(hash [32]byte, reload bool)
	ConfigRejected(err error)
}

// MetricsExposer is implemented by observers that serve metrics on the admin
// listener; h is nil when metrics are off.
type MetricsExposer interface {
	Metrics() (path string, h http.Handler)
}

// NewObserver builds a snapshot's observer from bc.Config; it returns nil
// when the config turns nothing on.
type NewObserver func(bc *BuildContext) (Observer, error)

var observers = struct {
	sync.Mutex
	m map[string]NewObserver
}{m: map[string]NewObserver{}}

// RegisterObserver makes an observer available; observer packages call it
// from init(). Registering a name twice panics.
func RegisterObserver(name string, build NewObserver) {
	observers.Lock()
	defer observers.Unlock()
	if _, dup := observers.m[name]; dup {
		panic(fmt.Sprintf("filter: observer %q registered twice", name))
	}
	observers.m[name] = build
}

// Observers returns the registered observer constructors, sorted by name.
func Observers() []NewObserver {
	observers.Lock()
	defer observers.Unlock()
	names := make([]string, 0, len(observers.m))
	for n := range observers.m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]NewObserver, len(names))
	for i, n := range names {
		out[i] = observers.m[n]
	}
	return out
}

// Span is the exchange's server span, for filters to add events and
// attributes to. It is a no-op span when tracing is off.
func (x *Exchange) Span() trace.Span {
	if x.span == nil {
		return noSpan
	}
	return x.span
}

// SetSpan is for the tracing observer.
func (x *Exchange) SetSpan(s trace.Span) { x.span = s }

var noSpan = trace.SpanFromContext(context.Background())

// AdminObserver is implemented by observers that count the admin API's own
// requests. endpoint is one of a fixed set (healthz, readyz, status, config,
// routes, upstreams, reload, metrics, other).
type AdminObserver interface {
	AdminRequest(endpoint string, status int, elapsed time.Duration)
}
