package config

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// validate checks everything the core owns after defaults are applied.
// Filter blocks are checked by their own packages when built, and route
// path templates by the router when it compiles them.
func validate(c *Config) Errors {
	v := &validator{c: c}
	v.server()
	v.listeners()
	v.admin()
	v.upstreams()
	v.chains()
	v.routes()
	v.consumers()
	v.plugins() // plugins_validate.go
	v.stores()
	v.observability() // observability_validate.go
	return v.errs
}

type validator struct {
	c    *Config
	errs Errors
}

func (v *validator) errf(field, format string, args ...any) {
	v.errs = append(v.errs, v.c.Errorf(field, format, args...))
}

// oneOf checks an enumerated value and lists the valid ones if it is not.
func (v *validator) oneOf(field, got string, valid ...string) {
	for _, ok := range valid {
		if got == ok {
			return
		}
	}
	v.errf(field, "%q is not valid; valid values: %s", got, strings.Join(valid, ", "))
}

func (v *validator) notNegative(field string, n int) {
	if n < 0 {
		v.errf(field, "%d is negative; use a positive number (0 means the default)", n)
	}
}

func (v *validator) server() {
	v.oneOf("server.underscore_headers", v.c.Server.UnderscoreHeaders, "drop", "reject", "allow")
	v.responseHygiene() // server_validate.go
	v.overload()        // server_validate.go
}

func (v *validator) listeners() {
	if len(v.c.Listeners) == 0 {
		v.errf("listeners", `at least one listener is required, e.g. listeners: [{address: ":8080"}]`)
	}
	addresses, names := map[string]int{}, map[string]int{}
	for i, l := range v.c.Listeners {
		p := joinIndex("listeners", i)
		switch err := checkHostPort(l.Address); {
		case l.Address == "":
			v.errf(p+".address", `an address is required: host:port, e.g. ":8080" or "127.0.0.1:8080"`)
		case err != nil:
			v.errf(p+".address", "%v", err)
		case strings.HasSuffix(l.Address, ":0"):
			// Each port-0 listener binds its own ephemeral port; the
			// names (unique, below) tell them apart.
		default:
			if j, dup := addresses[l.Address]; dup {
				v.errf(p+".address", "address %q is already used by listeners[%d]; each listener needs its own", l.Address, j)
			} else {
				addresses[l.Address] = i
			}
		}
		// A name defaulted from a duplicate address is already reported,
		// except for port 0, where only the names tell listeners apart.
		anyPort := strings.HasSuffix(l.Address, ":0")
		if j, dup := names[l.Name]; dup && anyPort && l.Name == l.Address {
			v.errf(p+".name", "listeners[%d] also binds %q; give each port-0 listener its own name", j, l.Address)
		} else if dup && l.Name != l.Address {
			v.errf(p+".name", "name %q is already used by listeners[%d]; names must be unique", l.Name, j)
		} else {
			names[l.Name] = i
		}
		if l.TLS != nil {
			v.tls(p+".tls", l.TLS)
			if l.H2C {
				v.errf(p+".h2c", "h2c is HTTP/2 without TLS and this listener has tls; remove h2c (tls.http2 offers h2 over TLS)")
			}
		}
		v.notNegative(p+".http2.max_concurrent_streams", l.HTTP2.MaxConcurrentStreams)
		v.notNegative(p+".max_header_count", l.MaxHeaderCount)
		v.connectionLimits(p, l) // server_validate.go
	}
}

func (v *validator) tls(p string, t *TLS) {
	if len(t.Certificates) == 0 {
		v.errf(p+".certificates", "at least one certificate is required, e.g. certificates: [{cert: server.pem, key: server.key}]")
	}
	for i, c := range t.Certificates {
		cp := joinIndex(p+".certificates", i)
		if c.Cert == "" {
			v.errf(cp+".cert", "required: the path of a PEM certificate chain")
		}
		if c.Key == "" {
			v.errf(cp+".key", "required: the path of the certificate's PEM private key")
		}
	}
	v.oneOf(p+".client_auth", t.ClientAuth, "none", "request", "require")
	if t.ClientCA == "" && (t.ClientAuth == "request" || t.ClientAuth == "require") {
		v.errf(p+".client_auth", "client_auth %s needs client_ca, the PEM bundle client certificates are verified against", t.ClientAuth)
	}
	v.oneOf(p+".min_version", t.MinVersion, "1.2", "1.3")
}

func (v *validator) admin() {
	if a := v.c.Admin.Address; a != "off" {
		if err := checkHostPort(a); err != nil {
			v.errf("admin.address", `%v, or "off" to disable the admin API`, err)
		}
	}
	for i, name := range v.c.Admin.Readiness.RequireHealthyUpstreams {
		if _, ok := v.c.Upstreams[name]; !ok {
			valid := sortedKeys(v.c.Upstreams)
			msg := fmt.Sprintf("unknown upstream %q; valid upstreams: %s", name, validList(valid))
			if s := Closest(name, valid); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			v.errf(joinIndex("admin.readiness.require_healthy_upstreams", i), "%s", msg)
		}
	}
	v.adminAccess() // admin.go
}

// checkHostPort accepts what net.Listen accepts for TCP with a numeric port
// (0 picks a free one, which tests use).
func checkHostPort(addr string) error {
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

func (v *validator) name(field, kind, name string) {
	if !validName.MatchString(name) {
		v.errf(field, "%s name %q is not valid; use letters, digits, '_', '.' and '-'", kind, name)
	}
}

func (v *validator) upstreams() {
	for _, name := range sortedKeys(v.c.Upstreams) {
		p := JoinKey("upstreams", name)
		v.name(p, "upstream", name)
		u := v.c.Upstreams[name]
		if len(u.Targets) == 0 {
			v.errf(p+".targets", `at least one target is required, e.g. targets: [{url: "http://127.0.0.1:9001"}]`)
		}
		for i, t := range u.Targets {
			tp := joinIndex(p+".targets", i)
			if err := checkTargetURL(t.URL); err != nil {
				v.errf(tp+".url", "%v", err)
			}
			v.notNegative(tp+".weight", t.Weight)
		}
		v.upstreamPolicies(p, u) // upstreams_validate.go
		v.oneOf(p+".protocol", u.Protocol, "http1", "h2c", "auto")
		v.notNegative(p+".max_idle_per_target", u.MaxIdlePerTarget)
	}
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
