package filter

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/router"
)

// Exchange is the per-request state: one value per client request, owned by
// the goroutine serving it. Filters read and edit it; nothing else holds it
// after the exchange is done.
type Exchange struct {
	// Request is the request as the upstream will receive it. Its URL path is
	// already canonical; filters may edit headers, path and query.
	Request *http.Request
	// Route is the matched route's name; Params its path parameters.
	Route  string
	Params router.Params
	// ClientIP is the client's address: the TCP peer, or the address a
	// trusted proxy reported.
	ClientIP netip.Addr
	// Scheme is "https" when the client's request came over TLS, to the
	// gateway or (as a trusted proxy's X-Forwarded-Proto says) to the proxy
	// in front of it; "http" otherwise.
	Scheme string
	// APIVersion is the API version the request names (normalized: "v2"),
	// or the configured default; "" without versioning.
	APIVersion string
	// Start is when the gateway received the request.
	Start time.Time
	// Consumer is the authenticated caller, set by an auth filter.
	Consumer *Consumer

	// RequestBody holds the whole request body when the chain buffers it;
	// a filter may replace it.
	RequestBody []byte
	// Response is the response being returned, set before the response phase.
	Response *Response

	// The exchange's record, filled in by the gateway and the proxy as it
	// happens, for observers (metrics, traces, access log) to read at End.

	// RouteIndex is the matched route's index in Config.Routes (valid when
	// Route is set), so observers index state bound per route at load.
	RouteIndex int
	RequestID  string
	// Status is the status sent to the client, or 499 when the client left
	// before there was anything to send.
	Status   int
	BytesIn  int64 // request body bytes read from the client
	BytesOut int64 // response body bytes written to the client
	// Upstream and Target name the last upstream attempt: the upstream's
	// config name and the target's host:port.
	Upstream string
	Target   string
	Attempts int
	// UpstreamDuration is the time spent waiting for upstream response
	// headers, summed over attempts.
	UpstreamDuration time.Duration
	// AnsweredBy names the filter whose local response ended the request
	// phase (a cache hit, a preflight, a refusal); RejectedBy names it too
	// when that response is an error (status 400 and above). Set both with
	// Answered.
	AnsweredBy string
	RejectedBy string
	// GRPCStatus is the grpc-status a gRPC client was sent (in the
	// trailers, or in the headers of a trailers-only response), "" when
	// there was none.
	GRPCStatus string
	// Err is why the exchange failed on the gateway's side, for logs.
	Err error

	span   trace.Span
	values map[any]any

	// Route re-selection (route.go).
	routeStale     bool
	routingHeaders RoutingHeaders
	routeConfig    *config.Route
}

// Consumer is an authenticated identity with its metadata (tier, group),
// usable by rate limits and Wasm filters.
type Consumer struct {
	Name     string
	Metadata map[string]string
}

// Set stores a per-exchange value for later filters (claims, a tracing span).
// Keys should be unexported types of the filter package, as with context.
func (x *Exchange) Set(key, value any) {
	if x.values == nil {
		x.values = make(map[any]any, 2)
	}
	x.values[key] = value
}

// Value returns what Set stored under key, or nil.
func (x *Exchange) Value(key any) any { return x.values[key] }

// Reset clears the exchange for reuse from a pool.
func (x *Exchange) Reset() {
	params := x.Params[:0]
	clear(x.values)
	values := x.values
	*x = Exchange{Params: params, values: values}
}

// Answered records that the filter named name ended the request phase
// with its local response resp.
func (x *Exchange) Answered(name string, resp *Response) {
	x.AnsweredBy = name
	if resp != nil && resp.Status >= 400 {
		x.RejectedBy = name
	}
}

// Response is a response produced by the gateway or a filter (Local), or the
// upstream's response during the response phase.
type Response struct {
	Status int
	Header http.Header
	// Body is the whole body of a local response, or of an upstream response
	// when the chain buffers it; nil means the upstream body streams through.
	Body  []byte
	Local bool
	// Trailer points at the upstream response's trailers (nil for a local
	// response). They are there once the body has been read to its end: a
	// streaming body filter reads them when Body.End is set. Fields it
	// deletes are not sent to the client (a filter that moved them into
	// the body, as grpc_web does, deletes them all).
	Trailer *http.Header
}

// errorBody is the JSON shape of every error the gateway itself returns.
type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// Error returns a local JSON error response: {"error": reason, "status": N}.
func Error(status int, reason string) *Response {
	body, _ := json.Marshal(errorBody{Error: reason, Status: status})
	return &Response{
		Status: status,
		Header: http.Header{
			"Content-Type":           {"application/json"},
			"Content-Length":         {strconv.Itoa(len(body) + 1)},
			"X-Content-Type-Options": {"nosniff"},
		},
		Body:  append(body, '\n'),
		Local: true,
	}
}
