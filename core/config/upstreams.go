package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The upstream policy blocks: how a target is chosen, when it is taken out
// of rotation, how failed exchanges are retried and when an upstream stops
// taking requests altogether. Each block is optional; its defaults apply
// only when it is present (upstreamDefaults), so an upstream without a
// health block has no checks at all.

// HashKey says where consistent_hash takes its key from: exactly one field
// (core/upstream checks it, beside the code that reads it).
type HashKey struct {
	Header   string `yaml:"header"`    // a request header's value
	Cookie   string `yaml:"cookie"`    // a cookie's value
	Query    string `yaml:"query"`     // a query parameter's value
	Param    string `yaml:"param"`     // a route path parameter's value
	ClientIP bool   `yaml:"client_ip"` // the client's address
	// BoundedLoad caps any target at this factor of the mean in-flight
	// load (consistent hashing with bounded loads); 0 turns the cap off.
	BoundedLoad float64 `yaml:"bounded_load"`
}

// Health is an upstream's health checking: active probes, passive outlier
// detection from real traffic, or both.
type Health struct {
	Active  *ActiveHealth  `yaml:"active"`
	Passive *PassiveHealth `yaml:"passive"`
}

// ActiveHealth probes every target with an HTTP GET on an interval.
type ActiveHealth struct {
	Path string `yaml:"path"` // required for HTTP checks, e.g. /healthz
	// GRPC makes the check a gRPC health check (grpc.health.v1.Health/Check)
	// instead of a GET of Path: it passes when the target answers SERVING.
	GRPC     *GRPCHealth `yaml:"grpc"`
	Host     string      `yaml:"host"`     // Host header; default the target's
	Interval Duration    `yaml:"interval"` // default 10s
	Timeout  Duration    `yaml:"timeout"`  // default 2s
	// HealthyThreshold consecutive passes bring a target back (default 2);
	// UnhealthyThreshold consecutive failures take it out (default 3).
	HealthyThreshold   int `yaml:"healthy_threshold"`
	UnhealthyThreshold int `yaml:"unhealthy_threshold"` // consecutive failures that take a target out (default 3)
	// Statuses that count as a pass: codes or ranges, default ["200-399"].
	Statuses []string `yaml:"statuses"`
}

// GRPCHealth is a gRPC health check (the standard grpc.health.v1 service).
type GRPCHealth struct {
	Service string `yaml:"service"` // the service name asked about; "" is the server as a whole
}

// PassiveHealth ejects a target after consecutive failures seen in real
// traffic (5xx responses, connect failures, resets, timeouts), as Envoy's
// outlier detection does.
type PassiveHealth struct {
	Failures int      `yaml:"failures"`  // consecutive, default 5
	Eject    Duration `yaml:"eject"`     // first ejection, default 30s; doubles... see MaxEject
	MaxEject Duration `yaml:"max_eject"` // the longest ejection, default 300s
	// MaxEjectedPercent caps the share of targets ejected at once, so a
	// broken check cannot empty an upstream (default 50; one target may
	// always be ejected).
	MaxEjectedPercent int `yaml:"max_ejected_percent"`
}

// Retries re-sends a failed exchange to another target.
type Retries struct {
	// Attempts is the number of tries in total, the first included
	// (default 2: one retry). 1 turns retries off.
	Attempts int `yaml:"attempts"`
	// On lists the conditions: connect_failure, reset, timeout, 5xx, or
	// status codes ("503"). Default [connect_failure, reset, "503"].
	On []string `yaml:"on"`
	// NonIdempotent allows retrying POST, PATCH and the like after the
	// request was sent. Connect failures (nothing sent) retry any method.
	NonIdempotent bool `yaml:"non_idempotent"`
	// Budget caps concurrent retries at this share of the upstream's active
	// requests (default 20%), but always allows MinRetries (default 3).
	Budget     Percent `yaml:"budget"`
	MinRetries int     `yaml:"min_retries"` // retries the budget always allows (default 3)
	Backoff    Backoff `yaml:"backoff"`
	// BufferBody is the largest request body (with a Content-Length) read
	// up front so it can be sent again (default 64KiB). Larger or chunked
	// bodies are streamed and only retried on connect failures.
	BufferBody Size `yaml:"buffer_body"`
}

// Backoff is exponential with full jitter: the n-th retry waits a random
// time in [0, min(Max, Base*2^(n-1))].
type Backoff struct {
	Base Duration `yaml:"base"` // default 25ms
	Max  Duration `yaml:"max"`  // default 250ms
}

// CircuitBreaker limits what an upstream is asked to do at once, and stops
// sending to it while too many exchanges fail. Zero limits are unlimited.
type CircuitBreaker struct {
	MaxRequests int `yaml:"max_requests"` // concurrent requests
	// MaxConnections caps the connections to each target (HTTP/1.1 carries
	// one request at a time on each); past it requests wait for one, and
	// MaxPending bounds how many may wait.
	MaxConnections int `yaml:"max_connections"`
	MaxPending     int `yaml:"max_pending"` // requests waiting for a connection
	MaxRetries     int `yaml:"max_retries"` // concurrent retries
	// ErrorRatio opens the breaker when this share of the requests in the
	// last Window (sliding) failed, once there were MinRequests (default
	// 20); 0 is off.
	ErrorRatio  Percent  `yaml:"error_ratio"`
	MinRequests int      `yaml:"min_requests"` // requests in the window before error_ratio counts (default 20)
	Window      Duration `yaml:"window"`       // default 10s
	OpenFor     Duration `yaml:"open_for"`     // default 10s, then half-open
	// HalfOpenProbes requests are let through when half-open; that many
	// successes close the breaker, one failure opens it again (default 3).
	HalfOpenProbes int `yaml:"half_open_probes"`
}

// UpstreamTLS is how https targets are verified, and what the gateway shows
// them.
type UpstreamTLS struct {
	CA         string `yaml:"ca" path:"file"`   // PEM bundle; default the system roots
	ServerName string `yaml:"server_name"`      // SNI and the name verified; default the target's host
	Cert       string `yaml:"cert" path:"file"` // client certificate (mTLS to the upstream)
	Key        string `yaml:"key" path:"file"`  // the client certificate's PEM private key
	// InsecureSkipVerify accepts any certificate: for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// DNS re-resolves target host names: every A/AAAA address becomes a target.
type DNS struct {
	Refresh Duration `yaml:"refresh"` // 0 (default): the dialer resolves per connection
	// Resolver is the DNS server (IP:port) asked for the targets' names,
	// over UDP and TCP, instead of the system's (/etc/resolv.conf): a
	// service-discovery DNS (Consul on 127.0.0.1:8600, say) without
	// touching the host's resolver. It needs Refresh.
	Resolver string `yaml:"resolver"`
}

// RouteTimeouts override the upstream's for one route.
type RouteTimeouts struct {
	Request        Duration `yaml:"request"`         // the whole exchange, retries included
	ResponseHeader Duration `yaml:"response_header"` // per attempt, until the response headers
}

// Percent is a share written as "20%" or a bare number (20); it holds 20.
type Percent float64

// UnmarshalNode reads "20%", "20" or "12.5%"; 0 to 100.
func (p *Percent) UnmarshalNode(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	const want = `expected a percentage like "20%" (0 to 100)`
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(n.Value), "%")), 64)
	if err != nil || v < 0 || v > 100 {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	*p = Percent(v)
	return nil
}

var _ NodeUnmarshaler = (*Percent)(nil)

// Upstream policy defaults, applied only inside blocks that are present.
const (
	defaultCheckInterval      = 10 * time.Second
	defaultCheckTimeout       = 2 * time.Second
	defaultHealthyThreshold   = 2
	defaultUnhealthyThreshold = 3
	defaultPassiveFailures    = 5
	defaultEject              = 30 * time.Second
	defaultMaxEject           = 300 * time.Second
	defaultMaxEjectedPercent  = 50
	defaultRetryAttempts      = 2
	defaultRetryBudget        = 20
	defaultMinRetries         = 3
	defaultBackoffBase        = 25 * time.Millisecond
	defaultBackoffMax         = 250 * time.Millisecond
	defaultRetryBuffer        = 64 << 10
	defaultBreakerMinRequests = 20
	defaultBreakerWindow      = 10 * time.Second
	defaultBreakerOpenFor     = 10 * time.Second
	defaultHalfOpenProbes     = 3
)

// DefaultRetryOn is what retries.on means when left out.
var DefaultRetryOn = []string{"connect_failure", "reset", "503"}

// upstreamDefaults fills the policy blocks of one upstream.
func upstreamDefaults(u *Upstream) {
	if a := u.Health.Active; a != nil {
		setDuration(&a.Interval, defaultCheckInterval)
		setDuration(&a.Timeout, defaultCheckTimeout)
		setInt(&a.HealthyThreshold, defaultHealthyThreshold)
		setInt(&a.UnhealthyThreshold, defaultUnhealthyThreshold)
		if len(a.Statuses) == 0 {
			a.Statuses = []string{"200-399"}
		}
	}
	if p := u.Health.Passive; p != nil {
		setInt(&p.Failures, defaultPassiveFailures)
		setDuration(&p.Eject, defaultEject)
		setDuration(&p.MaxEject, defaultMaxEject)
		setInt(&p.MaxEjectedPercent, defaultMaxEjectedPercent)
	}
	if u.Retries != nil {
		retryDefaults(u.Retries)
	}
	if b := u.CircuitBreaker; b != nil {
		setInt(&b.MinRequests, defaultBreakerMinRequests)
		setDuration(&b.Window, defaultBreakerWindow)
		setDuration(&b.OpenFor, defaultBreakerOpenFor)
		setInt(&b.HalfOpenProbes, defaultHalfOpenProbes)
	}
}

func retryDefaults(r *Retries) {
	setInt(&r.Attempts, defaultRetryAttempts)
	if len(r.On) == 0 {
		r.On = DefaultRetryOn
	}
	if r.Budget == 0 {
		r.Budget = defaultRetryBudget
	}
	setInt(&r.MinRetries, defaultMinRetries)
	setDuration(&r.Backoff.Base, defaultBackoffBase)
	setDuration(&r.Backoff.Max, defaultBackoffMax)
	setSize(&r.BufferBody, defaultRetryBuffer)
}

// routeDefaults fills a route's retries block.
func routeDefaults(r *Route) {
	if r.Retries != nil {
		retryDefaults(r.Retries)
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

// JSONSchema: 0 to 100, with or without "%".
func (*Percent) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "number", "minimum": 0, "maximum": 100},
		map[string]any{"type": "string", "pattern": `^\s*[0-9]+(\.[0-9]*)?\s*%?\s*$`},
	}}
}
