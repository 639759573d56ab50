package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
)

// Policy is who may use the admin API and how it is reached: the host names
// it answers to, its bearer tokens, its TLS. It is compiled from admin: at
// load and never changed; a reload compiles a new one and swaps it in, so
// tokens and certificates rotate without a restart.
//
// Every request but the probes (/healthz, /readyz) passes four checks, in
// this order, each answered with a JSON error:
//
//  1. Host (421): an IP address, localhost, or a name in admin.hosts. A page
//     on a name the attacker controls, re-resolved to this machine (DNS
//     rebinding), reaches the port as same-origin; its Host still names the
//     attacker's domain. IP addresses are safe to accept: a page can only
//     send Host: 127.0.0.1 by fetching from another origin than its own,
//     whose responses the browser does not let it read. The port is not
//     compared, so port forwards and NAT keep working.
//  2. Cross-site (403): a browser marks its requests with Sec-Fetch-Site
//     and, for anything but a plain navigation, Origin; either naming
//     another origin is refused, reads included (a cross-site page cannot
//     read the answers, but a CPU profile costs while it runs).
//  3. Token (401, or 403 for a read token on reload or profiles), when
//     admin.auth is set. The console's static files (GET /ui/...) need
//     none: they are the same bytes in every wasmgate binary and say
//     nothing about this one; the page asks for the token and sends it
//     with every API call it makes.
//  4. Writes (415): any method but GET, HEAD and OPTIONS needs a bearer
//     token, Content-Type application/json, or no body at all. Every body
//     an HTML form or a preflight-free fetch can send is text/plain,
//     urlencoded or multipart; this refuses them even from an old browser
//     that sends no Origin. `curl -X POST .../reload` sends no body.
type Policy struct {
	hosts  map[string]bool // lowercase, no trailing dot
	tokens []token
	tls    *tls.Config // nil: plain HTTP
}

type token struct {
	name  string
	hash  [32]byte
	admin bool // false: read only
}

// NewPolicy compiles a, reading the TLS files it names. Errors are FieldErrs
// under admin.tls.
func NewPolicy(a *config.Admin) (*Policy, error) {
	p := &Policy{hosts: map[string]bool{}}
	for _, h := range a.Hosts {
		p.hosts[normalHost(h)] = true
	}
	if a.Auth != nil {
		for _, t := range a.Auth.Tokens {
			p.tokens = append(p.tokens, token{name: t.Name, hash: t.Hash, admin: t.Access != config.AdminAccessRead})
		}
	}
	if a.TLS != nil {
		cfg, err := loadTLS(a.TLS)
		if err != nil {
			return nil, err
		}
		p.tls = cfg
	}
	return p, nil
}

// loadTLS reads the certificate, its key and the client CA.
func loadTLS(t *config.AdminTLS) (*tls.Config, error) {
	var errs []error
	certPEM, err := os.ReadFile(t.Cert)
	if err != nil {
		errs = append(errs, config.FieldErr("admin.tls.cert", "cannot load %s: %v", t.Cert, err))
	}
	keyPEM, err := os.ReadFile(t.Key)
	if err != nil {
		errs = append(errs, config.FieldErr("admin.tls.key", "cannot load %s: %v", t.Key, err))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if errs == nil {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			errs = append(errs, config.FieldErr("admin.tls.key", "cannot use %s as the key of %s: %v", t.Key, t.Cert, err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.ClientCA != "" {
		pemBytes, err := os.ReadFile(t.ClientCA)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			errs = append(errs, config.FieldErr("admin.tls.client_ca", "cannot load %s: %v", t.ClientCA, err))
		case !pool.AppendCertsFromPEM(pemBytes):
			errs = append(errs, config.FieldErr("admin.tls.client_ca", "%s holds no PEM certificate", t.ClientCA))
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, errors.Join(errs...)
}

// normalHost is h as Host names are compared: lowercase, without the
// trailing dot of a fully qualified name, without IPv6 brackets.
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return h
}

// allowsHost reports whether hostport, a request's Host, names this admin API.
func (p *Policy) allowsHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = normalHost(host)
	return host == "" || host == "localhost" || net.ParseIP(host) != nil || p.hosts[host]
}

// crossSite reports whether r comes from a page of another origin than
// scheme://Host.
func crossSite(r *http.Request, scheme string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none": // none: typed in the address bar, a bookmark
	default: // same-site, cross-site, or anything newer
		return true
	}
	origin := r.Header.Get("Origin")
	return origin != "" && !strings.EqualFold(origin, scheme+"://"+r.Host)
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110 11.1).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, tok != ""
}

// match finds the token whose hash is tok's. Every configured hash is
// compared in constant time, so neither the time taken nor an early exit
// says how close a guess came.
func (p *Policy) match(tok string) *token {
	sum := sha256.Sum256([]byte(tok))
	var found *token
	for i := range p.tokens {
		if subtle.ConstantTimeCompare(sum[:], p.tokens[i].hash[:]) == 1 {
			found = &p.tokens[i]
		}
	}
	return found
}

// consoleAsset reports whether r reads one of the console's static files.
func consoleAsset(r *http.Request) bool {
	p := path.Clean(r.URL.Path) // "/ui/../status" is not an asset
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(p == "/ui" || strings.HasPrefix(p, "/ui/"))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// probe reports whether r is a liveness or readiness probe, which load
// balancers and orchestrators call with whatever Host they like and no token.
func probe(r *http.Request) bool { return r.URL.Path == "/healthz" || r.URL.Path == "/readyz" }

// guard serves r through next if the current policy admits it, and answers
// with a JSON error otherwise. Writes that pass are logged with the token
// that made them.
func guard(next http.Handler, policy func() *Policy, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if probe(r) {
			next.ServeHTTP(w, r)
			return
		}
		p := policy()
		if !p.allowsHost(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("the admin API does not answer to host %q; it answers to IP addresses, localhost and the names in admin.hosts", r.Host))
			return
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if crossSite(r, scheme) {
			writeError(w, http.StatusForbidden, "cross-site requests to the admin API are refused")
			return
		}
		tok, hasBearer := bearer(r.Header.Get("Authorization"))
		who := ""
		if len(p.tokens) > 0 && !consoleAsset(r) {
			const realm = `Bearer realm="wasmgate admin"`
			if !hasBearer {
				h.Set("WWW-Authenticate", realm)
				writeError(w, http.StatusUnauthorized, "the admin API requires a token: Authorization: Bearer <token>")
				return
			}
			t := p.match(tok)
			if t == nil {
				h.Set("WWW-Authenticate", realm+`, error="invalid_token"`)
				writeError(w, http.StatusUnauthorized, "the admin API token is not valid")
				return
			}
			if !t.admin && (!safeMethod(r.Method) || strings.HasPrefix(r.URL.Path, "/debug/pprof/")) {
				h.Set("WWW-Authenticate", realm+`, error="insufficient_scope"`)
				writeError(w, http.StatusForbidden, fmt.Sprintf("token %q has read access; reload and profiles need a token with access: admin", t.name))
				return
			}
			who = t.name
		}
		if !safeMethod(r.Method) {
			if !hasBearer && !jsonOrEmpty(r) {
				writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%s %s takes no body, or Content-Type: application/json", r.Method, r.URL.Path))
				return
			}
			logger.Info("admin write", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "token", who)
		}
		next.ServeHTTP(w, r)
	})
}

// jsonOrEmpty reports whether r declares a JSON body or has no body and no
// Content-Type: neither is what a form or a simple cross-site fetch sends.
func jsonOrEmpty(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return r.ContentLength == 0 && len(r.TransferEncoding) == 0
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg, "status": status})
}
