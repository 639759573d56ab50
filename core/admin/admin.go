// Package admin serves the admin API on its own listener: liveness,
// readiness, the running config (secrets redacted), the route table, and
// reload. It never shares a port with client traffic. Who may call it is
// the Policy's business (policy.go).
package admin

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/acme"
	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// Backend is what the admin API reports on and acts upon; the gateway
// implements it.
type Backend interface {
	// Ready is false while starting and while draining.
	Ready() bool
	// Status describes the running snapshot.
	Status() Status
	// ConfigYAML is the running config as written, secrets redacted.
	ConfigYAML() []byte
	// Routes lists the compiled routes in priority-independent config order.
	Routes() []Route
	// Reload loads the config file again and swaps it in if valid.
	Reload() error
	// Upstreams is the live state of every upstream, sorted by name: per
	// target health, ejections, in-flight requests and latency; the circuit
	// breaker. GET /upstreams writes it as upstream.Status defines it.
	Upstreams() []upstream.Status
}

// MetricsBackend is implemented by backends that serve metrics (Prometheus
// text format) on the admin listener, at a path the config chooses; h is nil
// while metrics are off.
type MetricsBackend interface {
	Metrics() (path string, h http.Handler)
}

// RequestObserver is implemented by backends that count the admin API's own
// requests (metrics). endpoint is one of Endpoints.
type RequestObserver interface {
	AdminRequest(endpoint string, status int, elapsed time.Duration)
}

// ProfilingBackend is implemented by backends that may serve Go's runtime
// profiles under /debug/pprof/; Pprof is read per request, so a reload
// turns them on or off.
type ProfilingBackend interface {
	Pprof() bool
}

// ReadinessBackend is implemented by backends whose readiness depends on
// upstreams; Unready names those holding it back.
type ReadinessBackend interface {
	Unready() []string
}

// RevokeBackend is implemented by backends that manage ACME certificates:
// POST /certificates/revoke revokes one and has it replaced at once.
type RevokeBackend interface {
	RevokeCertificate(ctx context.Context, name, reason string) (acme.Revocation, error)
}

// Endpoints are the admin endpoints as metrics label them: a fixed set.
var Endpoints = []string{"healthz", "readyz", "status", "config", "routes", "upstreams", "traffic", "plugins", "refusals", "reload", "certificates_revoke", "metrics", "pprof", "ui", "index", "other"}

// TrafficBackend is implemented by backends that keep a short in-memory
// history of each route's traffic, which the console charts. route "" asks
// for the summary only; ok is false when no route of that name exists.
type TrafficBackend interface {
	Traffic(route string) (t Traffic, ok bool)
}

// Traffic is the recent traffic: the total series, each route's latest
// sample (busiest first, routes without traffic in the window left out),
// and one route's series when asked for.
type Traffic struct {
	IntervalSeconds float64        `json:"interval_seconds"`
	WindowSeconds   float64        `json:"window_seconds"`
	Total           Series         `json:"total"`
	Routes          []RouteTraffic `json:"routes"`
	Route           string         `json:"route,omitempty"`
	Series          *Series        `json:"series,omitempty"`
}

// RouteTraffic is a route's latest sample.
type RouteTraffic struct {
	Name      string  `json:"name"`
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"error_rate"` // 5xx share, 0..1
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
}

// Series is samples over time, oldest first: parallel arrays, so 15
// minutes of a route stay a few kilobytes of JSON.
type Series struct {
	Time      []int64   `json:"time"` // Unix seconds at the end of each interval
	RPS       []float64 `json:"rps"`
	ErrorRate []float64 `json:"error_rate"`
	P50Millis []float64 `json:"p50_ms"`
	P99Millis []float64 `json:"p99_ms"`
}

// PluginsBackend is implemented by backends whose routes run plugins
// (Wasm modules): GET /plugins lists them.
type PluginsBackend interface {
	Plugins() []filter.PluginStatus
}

// RefusalsBackend is implemented by backends that count the requests their
// filters refused with a response of their own (401 and 403 from auth
// filters, 429 from rate limits, ...): GET /refusals.
type RefusalsBackend interface {
	Refusals() Refusals
}

// Refusals are the counts of refused requests since the gateway started,
// by route, refusing filter and status, busiest first; Auth and RateLimit
// sum them by kind.
type Refusals struct {
	Auth      uint64    `json:"auth"`       // 401 and 403
	RateLimit uint64    `json:"rate_limit"` // 429
	Other     uint64    `json:"other"`
	Refusals  []Refusal `json:"refusals"`
}

// Refusal is one route's refusals by one filter with one status.
type Refusal struct {
	Route  string `json:"route"`
	Filter string `json:"filter"`
	Status int    `json:"status"`
	// Kind is auth (401, 403), rate_limit (429) or other.
	Kind  string `json:"kind"`
	Total uint64 `json:"total"`
	// PerSecond is the rate over the last sampling interval.
	PerSecond float64 `json:"per_second"`
}

// Reload is one attempt to load the config, kept for the console.
type Reload struct {
	At         time.Time `json:"at"`
	Generation uint64    `json:"generation"` // serving after the attempt
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
}

// Status is the running snapshot's identity.
type Status struct {
	Version    string    `json:"version,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	Generation uint64    `json:"generation"`
	// ConfigHash is the SHA-256 of the config file as loaded, in hex.
	ConfigHash string    `json:"config_hash,omitempty"`
	File       string    `json:"file,omitempty"`
	LoadedAt   time.Time `json:"loaded_at"`
	Routes     int       `json:"routes"`
	Upstreams  int       `json:"upstreams"`
	// Listeners maps listener names to their bound addresses.
	Listeners map[string]string `json:"listeners"`
	// Reloads are the last attempts to load the config, newest first.
	Reloads []Reload `json:"reloads,omitempty"`
	// Certificates are those tls.acme blocks manage.
	Certificates []acme.Certificate `json:"certificates,omitempty"`
}

// Route is one route as the admin API shows it.
type Route struct {
	Name    string   `json:"name"`
	Hosts   []string `json:"hosts,omitempty"`
	Path    string   `json:"path,omitempty"`
	Prefix  string   `json:"prefix,omitempty"`
	Regex   string   `json:"regex,omitempty"`
	Methods []string `json:"methods,omitempty"`
	// Filters are the chain as it runs: `- chain:` entries expanded.
	Filters  []string `json:"filters,omitempty"`
	Upstream string   `json:"upstream,omitempty"`
	Respond  bool     `json:"respond,omitempty"`
}

// Server is the admin listener.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	policy atomic.Pointer[Policy]
	tls    bool // fixed at start: TLS cannot be turned on or off by a reload
}

// Start listens on addr and serves the admin API for b under p until Close.
func Start(addr string, p *Policy, b Backend, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, tls: p.tls != nil}
	s.policy.Store(p)
	if s.tls {
		// Each handshake takes the current policy's certificate and client
		// CA, so a reload rotates them without reopening the listener.
		ln = tls.NewListener(ln, &tls.Config{
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.policy.Load().tls, nil },
		})
	}
	s.srv = &http.Server{
		Handler:           handler(b, s.policy.Load, logger),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Long enough for a 60s CPU profile or trace (pprof refuses
		// a duration the server's WriteTimeout would cut).
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin listener stopped", "err", err)
		}
	}()
	return s, nil
}

// Accepts reports whether p can replace the running policy: the listener
// was opened with or without TLS and stays so until a restart.
func (s *Server) Accepts(p *Policy) error {
	switch {
	case s.tls && p.tls == nil:
		return config.FieldErr("admin.tls", "the admin API was started with TLS; serving it without TLS needs a restart")
	case !s.tls && p.tls != nil:
		return config.FieldErr("admin.tls", "the admin API was started without TLS; serving it with TLS needs a restart")
	}
	return nil
}

// Use swaps in p (checked with Accepts) for the requests that follow.
func (s *Server) Use(p *Policy) { s.policy.Store(p) }

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the admin listener, letting in-flight admin calls finish.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// handler routes the admin API, behind the guard of the current policy.
func handler(b Backend, policy func() *Policy, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			body := map[string]any{"ready": false}
			if rb, ok := b.(ReadinessBackend); ok {
				if names := rb.Unready(); len(names) > 0 {
					body["unavailable_upstreams"] = names
				}
			}
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		_, _ = w.Write(b.ConfigYAML())
	})
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Routes())
	})
	mux.HandleFunc("GET /upstreams", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Upstreams())
	})
	mux.HandleFunc("GET /traffic", func(w http.ResponseWriter, r *http.Request) {
		tb, ok := b.(TrafficBackend)
		if !ok {
			writeError(w, http.StatusNotFound, "this gateway keeps no traffic history")
			return
		}
		route := r.URL.Query().Get("route")
		t, ok := tb.Traffic(route)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no route named %q", route))
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
	mux.HandleFunc("GET /plugins", func(w http.ResponseWriter, _ *http.Request) {
		plugins := []filter.PluginStatus{}
		if pb, ok := b.(PluginsBackend); ok {
			plugins = append(plugins, pb.Plugins()...)
		}
		writeJSON(w, http.StatusOK, plugins)
	})
	mux.HandleFunc("GET /refusals", func(w http.ResponseWriter, _ *http.Request) {
		rb, ok := b.(RefusalsBackend)
		if !ok {
			writeError(w, http.StatusNotFound, "this gateway counts no refusals")
			return
		}
		writeJSON(w, http.StatusOK, rb.Refusals())
	})
	mux.Handle("GET /ui/", consoleHandler())
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"endpoints": index(b)})
	})
	mux.HandleFunc("/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "reload is POST only", "status": 405})
			return
		}
		if err := b.Reload(); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"reloaded": false, "error": err.Error(), "status": b.Status(),
			})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"reloaded": true, "status": b.Status()})
	})
	mux.HandleFunc("/certificates/revoke", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "certificates/revoke is POST only")
			return
		}
		rb, ok := b.(RevokeBackend)
		if !ok {
			writeError(w, http.StatusNotFound, "this gateway manages no certificates")
			return
		}
		revoke(w, r, rb)
	})
	mux.Handle("/debug/pprof/", profiles(b))
	for _, e := range registered() {
		mux.Handle(e.Pattern, e.Handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The metrics path can change on reload, so it is matched here.
		if mb, ok := b.(MetricsBackend); ok && r.Method == http.MethodGet {
			if path, h := mb.Metrics(); h != nil && r.URL.Path == path {
				h.ServeHTTP(w, r)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{
			"error":     "no such admin endpoint",
			"status":    http.StatusNotFound,
			"endpoints": index(b),
		})
	})
	guarded := guard(mux, policy, logger)
	if ro, ok := b.(RequestObserver); ok {
		return observed(guarded, mux, ro, b)
	}
	return guarded
}

// index lists every endpoint the admin API serves now: the metrics path
// and profiles depend on the running config.
func index(b Backend) []string {
	eps := []string{"GET /ui/", "GET /healthz", "GET /readyz", "GET /status", "GET /config", "GET /routes", "GET /upstreams"}
	if _, ok := b.(TrafficBackend); ok {
		eps = append(eps, "GET /traffic")
	}
	eps = append(eps, "GET /plugins")
	if _, ok := b.(RefusalsBackend); ok {
		eps = append(eps, "GET /refusals")
	}
	if mb, ok := b.(MetricsBackend); ok {
		if path, h := mb.Metrics(); h != nil {
			eps = append(eps, "GET "+path)
		}
	}
	if pb, ok := b.(ProfilingBackend); ok && pb.Pprof() {
		eps = append(eps, "GET /debug/pprof/")
	}
	for _, e := range registered() {
		eps = append(eps, e.Pattern)
	}
	if _, ok := b.(RevokeBackend); ok {
		eps = append(eps, "POST /certificates/revoke")
	}
	return append(eps, "POST /reload")
}

// profiles serves net/http/pprof's handlers while the backend allows it,
// and a 404 naming the setting otherwise.
func profiles(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, block, mutex, allocs, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pb, ok := b.(ProfilingBackend); !ok || !pb.Pprof() {
			writeJSON(w, http.StatusNotFound, map[string]any{
				"error":  "profiling is off; set admin.pprof: true to serve /debug/pprof/",
				"status": http.StatusNotFound,
			})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// observed counts every admin request by endpoint and status, refused
// ones included.
func observed(next http.Handler, mux *http.ServeMux, ro RequestObserver, b Backend) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		ro.AdminRequest(endpointOf(r, mux, b), sw.status, time.Since(start))
	})
}

// endpointOf names the endpoint the mux chose, or would have chosen, for r.
func endpointOf(r *http.Request, mux *http.ServeMux, b Backend) string {
	pattern := r.Pattern // set when the mux served r
	if pattern == "" {   // the guard refused it
		_, pattern = mux.Handler(r)
	}
	switch pattern {
	case "GET /healthz":
		return "healthz"
	case "GET /readyz":
		return "readyz"
	case "GET /status":
		return "status"
	case "GET /config":
		return "config"
	case "GET /routes":
		return "routes"
	case "GET /upstreams":
		return "upstreams"
	case "GET /traffic":
		return "traffic"
	case "GET /plugins":
		return "plugins"
	case "GET /refusals":
		return "refusals"
	case "GET /ui/", "GET /ui":
		return "ui"
	case "GET /{$}":
		return "index"
	case "/reload":
		return "reload"
	case "/certificates/revoke":
		return "certificates_revoke"
	case "/debug/pprof/":
		return "pprof"
	}
	if name := extensionName(pattern); name != "" {
		return name
	}
	if mb, ok := b.(MetricsBackend); ok && r.Method == http.MethodGet {
		if path, h := mb.Metrics(); h != nil && r.URL.Path == path {
			return "metrics"
		}
	}
	return "other"
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
