// Package config is the gateway's config schema as Go types, with loading
// from YAML (positions kept for every error), ${ENV} expansion, defaults and
// validation. A loaded Config is never mutated afterwards.
package config

import "go.yaml.in/yaml/v3"

// Config is one whole gateway configuration.
type Config struct {
	Server       Server                  `yaml:"server"`
	Listeners    []Listener              `yaml:"listeners"`
	Admin        Admin                   `yaml:"admin"`
	Upstreams    map[string]*Upstream    `yaml:"upstreams"`
	FilterChains map[string][]FilterSpec `yaml:"filter_chains"`
	Routes       []Route                 `yaml:"routes"`
	// Versioning says how requests name the API version they want, for
	// routes that declare a version (versioning.go).
	Versioning *Versioning `yaml:"versioning"`

	// Sections owned by filter families; their types live in their own files.
	Consumers     []Consumer    `yaml:"consumers"`     // consumers.go
	Observability Observability `yaml:"observability"` // observability.go

	// File is the path the config was loaded from ("" for an embedded one);
	// Root its document node, for resolving error positions after decoding.
	File string     `yaml:"-"`
	Root *yaml.Node `yaml:"-"`

	// expanded records the values that took text from ${ENV}, for Scrub.
	expanded []expansion
	// placeholders are the values that held an unset ${NAME}, and EnvRefs
	// every variable read, when parsed by ParsePlaceholders.
	placeholders []string
	EnvRefs      []EnvRef `yaml:"-"`
	// sections holds the top-level blocks other packages own (section.go).
	sections map[string]any
}

// Server holds process-wide HTTP behavior shared by every listener.
type Server struct {
	// DrainTimeout bounds how long a graceful stop waits for in-flight requests.
	DrainTimeout Duration `yaml:"drain_timeout"` // default 30s
	// DrainDelay is how long a stopping gateway keeps serving, listeners
	// open, after /readyz turned false: time for a load balancer (a
	// Kubernetes endpoint controller) to stop sending new requests before
	// the drain begins. Default 0: the drain begins at once.
	DrainDelay Duration `yaml:"drain_delay"`
	// UnderscoreHeaders decides what happens to request header names that
	// contain "_": drop (default, as nginx), reject (400) or allow.
	UnderscoreHeaders string `yaml:"underscore_headers"`
	// MergeSlashes folds "//" into "/" during path canonicalization (default true).
	MergeSlashes *bool `yaml:"merge_slashes"`
	// MaxRequestBody caps every request body unless a route says otherwise (default 16MiB; 0 in YAML means the default).
	MaxRequestBody Size `yaml:"max_request_body"`
	// ServerHeader, if set, is the Server field of every response the
	// gateway sends, replacing an upstream's (which names its software).
	ServerHeader string `yaml:"server_header"`
	// HideResponseHeaders are removed from every response before it reaches
	// a client, e.g. [X-Powered-By, X-AspNet-Version] (server_validate.go).
	HideResponseHeaders []string `yaml:"hide_response_headers"`
	// MinRequestBodyRate cuts off a client whose request body arrives
	// slower than this on average: the read timeout alone restarts with
	// every byte, so a body dripped one byte a second would hold its
	// connection and its upstream request until the request timeout.
	MinRequestBodyRate BodyRate `yaml:"min_request_body_rate"`
	// AllowLowercaseMethods accepts request methods with lowercase letters
	// (off by default: they are refused with 400, as nginx does). Methods
	// are case-sensitive (RFC 9110 §9.1) and routes match them exactly, but
	// many upstreams fold case, so "delete" would pass a route guarding
	// DELETE and still delete. Only for clients of exotic methods.
	AllowLowercaseMethods bool `yaml:"allow_lowercase_methods"`
	// MinResponseRate cuts off a client that reads a response slower than
	// this on average, counting only the time the gateway waits for the
	// client to take bytes, not for the upstream to produce them: the write
	// timeout alone restarts with every write, so a client reading a byte a
	// second would hold its connection, a goroutine, a copy buffer and an
	// upstream connection for as long as the body lasts.
	MinResponseRate BodyRate `yaml:"min_response_rate"`
	// Overload sheds load when the process's heap grows past thresholds,
	// before the kernel's OOM killer ends every connection at once.
	Overload Overload `yaml:"overload"`
}

// Overload is memory-pressure shedding, as Envoy's overload manager does it.
// The heap (Go's live and not yet swept objects) is read on a ticker, never
// per request. 0 turns a threshold off; both are off by default.
type Overload struct {
	// HeapSoft: past it, listeners accept no new connections (they are
	// refused at once, a 503 on plain HTTP listeners); connections already
	// open keep being served.
	HeapSoft Size `yaml:"heap_soft"`
	// HeapHard: past it, requests are also refused with 503 and
	// "Connection: close", so that clients go elsewhere and their memory
	// is freed. It must be above heap_soft when both are set.
	HeapHard Size `yaml:"heap_hard"`
}

// BodyRate is a minimum average transfer rate, enforced once Grace has
// passed since the first read of the body (408 Request Timeout below it),
// or since the first write of a response body (the response is cut off and
// its connection closed). gRPC requests (Content-Type application/grpc*)
// are exempt: a streaming call's client may rightly send nothing for
// minutes, and may read its stream at its own pace.
type BodyRate struct {
	// BytesPerSecond is the minimum average (default 240, as Kestrel's;
	// 0 turns the check off).
	BytesPerSecond *Size `yaml:"bytes_per_second"`
	// Grace is how long a body may start slowly (default 5s).
	Grace Duration `yaml:"grace"`
}

// Listener is one address the gateway accepts client connections on.
type Listener struct {
	Name    string `yaml:"name"`    // default: the address
	Address string `yaml:"address"` // host:port, required
	TLS     *TLS   `yaml:"tls"`
	// H2C accepts HTTP/2 without TLS (prior knowledge); off by default.
	H2C bool `yaml:"h2c"`
	// TrustedProxies are peers whose X-Forwarded-*/Forwarded headers are
	// kept and extended; from anyone else those headers are replaced.
	TrustedProxies []CIDR         `yaml:"trusted_proxies"`
	Timeouts       ServerTimeouts `yaml:"timeouts"`
	MaxHeaderBytes Size           `yaml:"max_header_bytes"` // default 64KiB
	// MaxHeaderCount caps the request's header field lines (a repeated name
	// counts once per line; Host is not counted): more is a 431 (default 100, as Envoy).
	MaxHeaderCount int           `yaml:"max_header_count"`
	HTTP2          ListenerHTTP2 `yaml:"http2"`
	// HTTP3 serves HTTP/3 over QUIC on the same port (UDP), for TLS
	// listeners only: `http3: true`, or a block of settings.
	HTTP3 *HTTP3 `yaml:"http3"`
	// Engine is what serves HTTP/1.x on this listener: native (the
	// default: the gateway's own server engine, core/server/internal/h1s)
	// or std (net/http's server). HTTP/2 is net/http's either way, and a
	// plain listener with h2c uses std for HTTP/1.x too.
	Engine string `yaml:"engine"`

	// Connection caps; 0 is no cap. Past one, a new connection is closed
	// at once (on a plain HTTP listener after a minimal 503); connections
	// already open are not touched.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps the connections open from one client
	// address, so that one host cannot take all of max_connections.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// AcceptRate caps how fast new connections are taken (a TLS handshake
	// costs the gateway far more than the client).
	AcceptRate AcceptRate `yaml:"accept_rate"`
}

// AcceptRate is a token bucket over accepted connections: PerSecond
// tokens a second, at most Burst saved up. A connection that finds the
// bucket empty is refused like one past a connection cap.
type AcceptRate struct {
	PerSecond int `yaml:"per_second"` // 0: no limit
	Burst     int `yaml:"burst"`      // default per_second
}

// ServerTimeouts are the client-side timeouts of a listener. Read and Write
// are per I/O progress for bodies (extended as bytes flow), so long streams
// (SSE, large downloads) live while slow or stalled peers are cut off.
type ServerTimeouts struct {
	ReadHeader Duration `yaml:"read_header"` // default 10s
	Read       Duration `yaml:"read"`        // default 60s
	Write      Duration `yaml:"write"`       // default 60s
	Idle       Duration `yaml:"idle"`        // default 120s
}

// ListenerHTTP2 tunes HTTP/2 on a listener.
type ListenerHTTP2 struct {
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"` // default 250
}

// TLS terminates TLS on a listener; the certificate is chosen by SNI.
type TLS struct {
	Certificates []Certificate `yaml:"certificates"`
	// ClientCA is a PEM bundle; with it, client certificates are verified.
	ClientCA string `yaml:"client_ca" path:"file"`
	// ClientAuth: none (default without client_ca), request, require (default with client_ca).
	ClientAuth string `yaml:"client_auth"`
	MinVersion string `yaml:"min_version"` // "1.2" (default) or "1.3"
	// HTTP2 offers h2 through ALPN (default true).
	HTTP2 *bool `yaml:"http2"`
	// ACME obtains and renews certificates from a CA (acme.go); with it,
	// certificates may be empty.
	ACME *ACME `yaml:"acme"`
}

// Certificate is a PEM certificate chain and its key. Which names it serves
// comes from the certificate itself (SANs).
type Certificate struct {
	Cert string `yaml:"cert" path:"file"` // path of the PEM certificate chain
	Key  string `yaml:"key" path:"file"`  // path of its PEM private key
}

// Admin is the admin API's listener.
type Admin struct {
	Address   string    `yaml:"address"` // default 127.0.0.1:9901; "off" disables
	Readiness Readiness `yaml:"readiness"`
	// Pprof serves Go's runtime profiles (CPU, heap, goroutines, mutex,
	// block, execution trace) under /debug/pprof/ on the admin listener.
	// Off by default: profiles expose internals and cost CPU while taken.
	Pprof bool `yaml:"pprof"`

	// Who may use it (admin.go): bearer tokens, the names it answers to
	// besides IP addresses and localhost, TLS, and the explicit opt-out
	// that lets it listen beyond loopback with no authentication.
	Auth                 *AdminAuth `yaml:"auth"`
	Hosts                []string   `yaml:"hosts"` // host names the admin API answers to, besides IP addresses and localhost
	TLS                  *AdminTLS  `yaml:"tls"`
	AllowUnauthenticated bool       `yaml:"allow_unauthenticated"` // lets it listen beyond loopback with no authentication
}

// Readiness is what GET /readyz requires beyond the gateway running (it is
// false while starting and draining regardless).
type Readiness struct {
	// RequireHealthyUpstreams names upstreams that must each have at least
	// one available target (not failing active checks, not ejected) for the
	// gateway to report ready.
	RequireHealthyUpstreams []string `yaml:"require_healthy_upstreams"`
}

// Upstream is a named group of targets that routes forward to.
type Upstream struct {
	Targets []Target `yaml:"targets"`
	// Balancer is one of core/upstream's (balancer.go, which also checks
	// it and Hash); default round_robin.
	Balancer string           `yaml:"balancer"`
	Timeouts UpstreamTimeouts `yaml:"timeouts"`
	// Protocol spoken to the targets: http1 (default), h2c (HTTP/2 without
	// TLS, e.g. gRPC), or auto (h2 over TLS where offered, else HTTP/1.1).
	Protocol string `yaml:"protocol"`
	// Engine is what speaks HTTP/1.1 to the targets: native (the default
	// for protocol http1: the gateway's own client, core/upstream/internal/h1)
	// or std (net/http's http.Transport, which h2c and auto always use).
	Engine string `yaml:"engine"`
	// MaxIdlePerTarget sizes each target's keep-alive pool (default 256).
	MaxIdlePerTarget int `yaml:"max_idle_per_target"`

	// Policies; the types and their defaults are in upstreams.go.
	Hash           *HashKey        `yaml:"hash"` // the key of consistent_hash
	Health         Health          `yaml:"health"`
	Retries        *Retries        `yaml:"retries"`
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker"`
	TLS            *UpstreamTLS    `yaml:"tls"`
	DNS            DNS             `yaml:"dns"`
	// SlowStart ramps a target's share up over this long after it becomes
	// healthy again (0: at once).
	SlowStart Duration `yaml:"slow_start"`
}

// Target is one backend address of an upstream.
type Target struct {
	URL    string `yaml:"url"`    // http(s)://host[:port][/base]; required, no query or credentials
	Weight int    `yaml:"weight"` // default 1 (0 also means 1); negative is an error
}

// UpstreamTimeouts bound each phase of talking to a target.
type UpstreamTimeouts struct {
	Connect        Duration `yaml:"connect"`         // default 5s
	ResponseHeader Duration `yaml:"response_header"` // default 30s
	Idle           Duration `yaml:"idle"`            // keep-alive idle, default 90s
	Request        Duration `yaml:"request"`         // the whole exchange, retries included; 0: none
}

// Route matches requests and says what to do with them.
type Route struct {
	Name    string       `yaml:"name"` // required, unique
	Match   Match        `yaml:"match"`
	Filters []FilterSpec `yaml:"filters"`
	// Exactly one target: Upstream (a name from upstreams), Respond,
	// Redirect or Aggregate.
	Upstream string    `yaml:"upstream"`
	Respond  *Respond  `yaml:"respond"`
	Redirect *Redirect `yaml:"redirect"`
	Rewrite  Rewrite   `yaml:"rewrite"`
	// Websocket allows Upgrade: websocket on this route (never h2c).
	Websocket bool `yaml:"websocket"`
	// MaxRequestBody overrides server.max_request_body for this route.
	MaxRequestBody Size `yaml:"max_request_body"`
	// MinRequestBodyRate overrides server.min_request_body_rate for this
	// route, field by field (bytes_per_second: 0 turns it off here), e.g.
	// for uploads streamed from sensors that send a line a minute.
	MinRequestBodyRate *BodyRate `yaml:"min_request_body_rate"`
	// MinResponseRate overrides server.min_response_rate for this route,
	// field by field, e.g. for downloads to clients known to be slow.
	MinResponseRate *BodyRate `yaml:"min_response_rate"`
	// PreserveHost sends the client's Host to the upstream instead of the target's.
	PreserveHost bool `yaml:"preserve_host"`
	// Retries replaces the upstream's retry policy for this route (upstreams.go).
	Retries  *Retries      `yaml:"retries"`
	Timeouts RouteTimeouts `yaml:"timeouts"`

	// Aggregate is a third target, instead of Upstream or Respond (aggregate.go).
	Aggregate *Aggregate `yaml:"aggregate"`
	// Split is a target too: traffic shared across upstreams by weight,
	// for canary releases, with SplitBy and SplitForce (split.go).
	Split      []SplitTarget `yaml:"split"`
	SplitBy    *SplitKey     `yaml:"split_by"`
	SplitForce *SplitForce   `yaml:"split_force"`
	// Mirror sends a copy of a share of the route's requests to another
	// upstream, in the background (mirror.go).
	Mirror *Mirror `yaml:"mirror"`

	// Metadata is free-form data for filters to read (metadata.go); the
	// Wasm host exposes it as Envoy's route_metadata property.
	Metadata Metadata `yaml:"metadata"`

	// Version is the API version this route serves ("v2"); it matches only
	// requests that name it, as versioning says (versioning.go).
	Version string `yaml:"version"`
	// Deprecation announces the route's retirement with Deprecation and
	// Sunset headers, and retires it at the sunset (versioning.go).
	Deprecation *Deprecation `yaml:"deprecation"`
	// Docs publishes the API this route serves on the documentation
	// portal (portal:), from an OpenAPI 3.0 or 3.1 document.
	Docs *RouteDocs `yaml:"docs"`
}

// RouteDocs names the OpenAPI document a route publishes. The portal
// package reads and checks it (core/portal).
type RouteDocs struct {
	// File is the OpenAPI 3.0/3.1 document, YAML or JSON, relative to the
	// config file's directory.
	File string `yaml:"file" path:"file"`
	// Name identifies the API on the portal and in PREFIX/openapi/NAME.json
	// (letters, digits, '.', '-', '_'; default: the route's name). Routes
	// that serve one API (v1 and v2 of it, say) give the same name and file.
	Name string `yaml:"name"`
}

// Match selects requests for a route. All given conditions must hold.
// Exactly one of Path, Prefix and Regex may be set; none matches every path.
type Match struct {
	// Hosts: exact names or "*.example.com" wildcards; empty matches any host.
	Hosts []string `yaml:"hosts"`
	// Path is exact or templated: "/users/{id}", "/files/{rest...}".
	Path string `yaml:"path"`
	// Prefix matches the path and everything below it on a segment boundary.
	Prefix string `yaml:"prefix"`
	// Regex is an RE2 expression matched against the whole canonical path;
	// named groups become params.
	Regex   string       `yaml:"regex"`
	Methods []string     `yaml:"methods"` // case-sensitive tokens; empty matches any
	Headers []ValueMatch `yaml:"headers"`
	Query   []ValueMatch `yaml:"query"`
	// Scheme: "http" or "https", the scheme the client used (a trusted
	// proxy's X-Forwarded-Proto counts); empty matches both. A redirect
	// route with https: true matches only "http" unless it says otherwise.
	Scheme string `yaml:"scheme"`
}

// ValueMatch matches one header or query parameter. With neither Value nor
// Regex it requires presence; Absent inverts that.
type ValueMatch struct {
	Name   string `yaml:"name"`   // the header or query parameter
	Value  string `yaml:"value"`  // its exact value
	Regex  string `yaml:"regex"`  // an RE2 expression matched against the whole value
	Absent bool   `yaml:"absent"` // matches when it is not there
}

// Rewrite changes the path the upstream receives.
type Rewrite struct {
	// StripPrefix removes this leading path (segment-aligned) before forwarding.
	StripPrefix string `yaml:"strip_prefix"`
	// Path replaces the path; {name} placeholders take route params.
	Path string `yaml:"path"`
}

// Respond is a response the gateway returns itself (no upstream). Header
// values and the body are templates ({id}, {header.X}, {request.host}, ...,
// as in the headers filter); in the body, braces that do not form a
// placeholder are literal, so JSON needs no escaping.
type Respond struct {
	Status  int               `yaml:"status"`  // default 200
	Headers map[string]string `yaml:"headers"` // response headers; values are templates
	Body    string            `yaml:"body"`    // the response body, a template
}

// Redirect answers with a redirect to Location, a template. Without a
// Location the request's own path is the target (with HTTPS, the upgrade).
type Redirect struct {
	// Status: 301, 302 (default), 303, 307 or 308. 302 because a permanent
	// redirect is cached by browsers with no way to take it back.
	Status int `yaml:"status"`
	// Location: a path ("/v2/users/{id}") or an absolute http(s) URL.
	Location string `yaml:"location"`
	// HTTPS sends the client to https://HOST with the path: the request's
	// host without port :80, or with Port.
	HTTPS bool `yaml:"https"`
	// Port of the https:// location (443 is left out); default: the
	// request's port, none if it was 80.
	Port int `yaml:"port"`
	// StripQuery drops the request's query; by default it is kept (appended
	// with & to a query the location has of its own).
	StripQuery bool `yaml:"strip_query"`
}

// FilterSpec is one entry of a filters list: a single-key map whose key is a
// registered filter name (or "chain", naming an entry of filter_chains) and
// whose value is that filter's config block, decoded later by the filter's
// own package so that its errors still point at the right line.
type FilterSpec struct {
	Name string
	Node *yaml.Node // the value node; never nil after decoding
	Line int
}
