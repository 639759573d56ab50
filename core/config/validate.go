package config

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validate checks everything the core owns after defaults are applied.
// Filter blocks are checked by their own packages when built, and route
// path templates by the router when it compiles them.
func validate(c *Config) Errors {
	v := &Validator{c: c}
	v.server()
	v.listeners()
	v.admin()
	v.upstreams()
	v.chains()
	v.routes()
	v.versioning() // versioning.go
	v.consumers()
	v.observability() // observability.go
	v.sections()      // section.go: the blocks other packages own
	return v.errs
}

// Validator collects the problems of one loaded config, each placed at the
// line of the field it names. The core's checks and every registered
// section's (RegisterSection, RegisterCredential) report through it, so a
// section owned by another package speaks in the same words.
type Validator struct {
	c    *Config
	errs Errors
}

// Config is the config being checked, core defaults applied. Checks read
// it; only a section's own check may change its own section.
func (v *Validator) Config() *Config { return v.c }

// Errorf records a problem with field, a path from the document root
// ("stores.redis.db", JoinIndex and JoinKey build them).
func (v *Validator) Errorf(field, format string, args ...any) {
	v.errs = append(v.errs, v.c.Errorf(field, format, args...))
}

// OneOf checks an enumerated value and lists the valid ones if it is not.
func (v *Validator) OneOf(field, got string, valid ...string) {
	for _, ok := range valid {
		if got == ok {
			return
		}
	}
	v.Errorf(field, "%q is not valid; valid values: %s", got, strings.Join(valid, ", "))
}

// NotNegative refuses a count below zero (zero means the default).
func (v *Validator) NotNegative(field string, n int) {
	if n < 0 {
		v.Errorf(field, "%d is negative; use a positive number (0 means the default)", n)
	}
}

// maxDrainDelay bounds server.drain_delay: a longer one is a unit typo
// ("5m" for "5s"), and orchestrators kill a pod that takes that long to stop.
const maxDrainDelay = 5 * time.Minute

func (v *Validator) server() {
	v.OneOf("server.underscore_headers", v.c.Server.UnderscoreHeaders, underscoreHeaders...)
	if d := v.c.Server.DrainDelay.D(); d > maxDrainDelay {
		v.Errorf("server.drain_delay", "%s is longer than %s: it is how long a stopping gateway keeps serving while load balancers take it out of rotation, usually 5s to 15s", d, maxDrainDelay)
	}
	v.responseHygiene() // server_validate.go
	v.overload()        // server_validate.go
}

func (v *Validator) listeners() {
	if len(v.c.Listeners) == 0 {
		v.Errorf("listeners", `at least one listener is required, e.g. listeners: [{address: ":8080"}]`)
	}
	addresses, names := map[string]int{}, map[string]int{}
	for i, l := range v.c.Listeners {
		p := JoinIndex("listeners", i)
		switch err := CheckHostPort(l.Address); {
		case l.Address == "":
			v.Errorf(p+".address", `an address is required: host:port, e.g. ":8080" or "127.0.0.1:8080"`)
		case err != nil:
			v.Errorf(p+".address", "%v", err)
		case strings.HasSuffix(l.Address, ":0"):
			// Each port-0 listener binds its own ephemeral port; the
			// names (unique, below) tell them apart.
		default:
			if j, dup := addresses[l.Address]; dup {
				v.Errorf(p+".address", "address %q is already used by listeners[%d]; each listener needs its own", l.Address, j)
			} else {
				addresses[l.Address] = i
			}
		}
		// A name defaulted from a duplicate address is already reported,
		// except for port 0, where only the names tell listeners apart.
		anyPort := strings.HasSuffix(l.Address, ":0")
		if j, dup := names[l.Name]; dup && anyPort && l.Name == l.Address {
			v.Errorf(p+".name", "listeners[%d] also binds %q; give each port-0 listener its own name", j, l.Address)
		} else if dup && l.Name != l.Address {
			v.Errorf(p+".name", "name %q is already used by listeners[%d]; names must be unique", l.Name, j)
		} else {
			names[l.Name] = i
		}
		if l.TLS != nil {
			v.tls(p+".tls", l.TLS)
			if l.H2C {
				v.Errorf(p+".h2c", "h2c is HTTP/2 without TLS and this listener has tls; remove h2c (tls.http2 offers h2 over TLS)")
			}
		}
		v.NotNegative(p+".http2.max_concurrent_streams", l.HTTP2.MaxConcurrentStreams)
		v.NotNegative(p+".max_header_count", l.MaxHeaderCount)
		v.OneOf(p+".engine", l.Engine, "native", "std")
		v.connectionLimits(p, l) // server_validate.go
		v.http3(p, l)            // http3.go
	}
}

func (v *Validator) tls(p string, t *TLS) {
	if t.ACME != nil {
		v.acme(p+".acme", t.ACME, v.c.hasPlainListener()) // acme.go
	}
	if len(t.Certificates) == 0 && t.ACME == nil {
		v.Errorf(p+".certificates", "at least one certificate is required, e.g. certificates: [{cert: server.pem, key: server.key}]")
	}
	for i, c := range t.Certificates {
		cp := JoinIndex(p+".certificates", i)
		if c.Cert == "" {
			v.Errorf(cp+".cert", "required: the path of a PEM certificate chain")
		}
		if c.Key == "" {
			v.Errorf(cp+".key", "required: the path of the certificate's PEM private key")
		}
	}
	v.OneOf(p+".client_auth", t.ClientAuth, clientAuths...)
	if t.ClientCA == "" && (t.ClientAuth == "request" || t.ClientAuth == "require") {
		v.Errorf(p+".client_auth", "client_auth %s needs client_ca, the PEM bundle client certificates are verified against", t.ClientAuth)
	}
	v.OneOf(p+".min_version", t.MinVersion, tlsVersions...)
}

func (v *Validator) admin() {
	if a := v.c.Admin.Address; a != "off" {
		if err := CheckHostPort(a); err != nil {
			v.Errorf("admin.address", `%v, or "off" to disable the admin API`, err)
		}
	}
	for i, name := range v.c.Admin.Readiness.RequireHealthyUpstreams {
		v.Upstream(JoinIndex("admin.readiness.require_healthy_upstreams", i), name)
	}
	v.adminAccess() // admin.go
}

// CheckHostPort accepts what net.Listen accepts for TCP with a numeric port
// (0 picks a free one, which tests use).
func CheckHostPort(addr string) error {
	const want = `want host:port, e.g. ":8080" or "127.0.0.1:8080"`
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port; %s", addr, want)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from 0 to 65535; %s", addr, want)
	}
	return nil
}

// validName is what routes, upstreams and filter chains may be called: it
// keeps names safe in field paths, metrics labels and log lines.
var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Name checks the name of something the config defines (a route, an
// upstream, a plugin) against validName.
func (v *Validator) Name(field, kind, name string) {
	if !validName.MatchString(name) {
		v.Errorf(field, "%s name %q is not valid; use letters, digits, '_', '.' and '-'", kind, name)
	}
}

func (v *Validator) upstreams() {
	for _, name := range sortedKeys(v.c.Upstreams) {
		p := JoinKey("upstreams", name)
		v.Name(p, "upstream", name)
		u := v.c.Upstreams[name]
		if len(u.Targets) == 0 {
			v.Errorf(p+".targets", `at least one target is required, e.g. targets: [{url: "http://127.0.0.1:9001"}]`)
		}
		for i, t := range u.Targets {
			tp := JoinIndex(p+".targets", i)
			if err := checkTargetURL(t.URL); err != nil {
				v.Errorf(tp+".url", "%v", err)
			}
			v.NotNegative(tp+".weight", t.Weight)
		}
		v.upstreamPolicies(p, u) // upstreams_validate.go
		v.OneOf(p+".protocol", u.Protocol, upstreamProtocols...)
		v.OneOf(p+".engine", u.Engine, upstreamEngines...)
		if u.Engine == "native" && u.Protocol != "http1" {
			v.Errorf(p+".engine", "engine native speaks HTTP/1.1 only; protocol %s needs engine std (or leave engine out)", u.Protocol)
		}
		v.NotNegative(p+".max_idle_per_target", u.MaxIdlePerTarget)
	}
}

// Upstream checks that name is an upstream of the config, listing the
// valid ones (and the nearest, for a typo) if it is not.
func (v *Validator) Upstream(field, name string) {
	if _, ok := v.c.Upstreams[name]; ok {
		return
	}
	valid := sortedKeys(v.c.Upstreams)
	msg := fmt.Sprintf("unknown upstream %q; valid upstreams: %s", name, validList(valid))
	if s := Closest(name, valid); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	v.Errorf(field, "%s", msg)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validList is "a, b, c", or "none are defined" for an empty list.
func validList(names []string) string {
	if len(names) == 0 {
		return "none are defined"
	}
	return strings.Join(names, ", ")
}

// The enumerated fields of the core's blocks, checked with OneOf and
// listed in the JSON Schema (EnumFielder).
var (
	underscoreHeaders = []string{"drop", "reject", "allow"}
	clientAuths       = []string{"none", "request", "require"}
	tlsVersions       = []string{"1.2", "1.3"}
	upstreamProtocols = []string{"http1", "h2c", "auto"}
	upstreamEngines   = []string{"native", "std"}
	adminAccesses     = []string{AdminAccessAdmin, AdminAccessRead}
)

func (*Server) EnumFields() map[string][]string {
	return map[string][]string{"underscore_headers": underscoreHeaders}
}

func (*TLS) EnumFields() map[string][]string {
	return map[string][]string{"client_auth": clientAuths, "min_version": tlsVersions}
}

func (*Upstream) EnumFields() map[string][]string {
	return map[string][]string{"protocol": upstreamProtocols, "engine": upstreamEngines}
}

func (*AdminToken) EnumFields() map[string][]string {
	return map[string][]string{"access": adminAccesses}
}
