package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// Who may use the admin API: bearer tokens, the Host it answers to, the
// refusal of cross-site requests and of form-like writes, TLS, and the
// refusal to serve an unauthenticated admin API beyond loopback.

const (
	adminToken = "admin-token-5c1e0b7a9d2f4e6b"
	readToken  = "read-token-8a3d6f1c2e9b7a40"
)

// adminAuthConfig binds the admin API to every interface, which serve
// allows because it has tokens; the harness reaches it on 0.0.0.0:port.
const adminAuthConfig = `
listeners:
  - address: "{{.listen}}"
admin:
  address: "0.0.0.0:0"
  pprof: true
  auth:
    tokens:
      - { name: ops, token: "${ADMIN_TOKEN}" }
      - { name: scraper, sha256: "{{.readHash}}", access: read }
observability: { metrics: { prometheus: true } }
routes:
  - name: health
    match: { path: /health }
    respond: { body: ok }
`

func TestAdminAuth(t *testing.T) {
	needBinary(t)
	sum := sha256.Sum256([]byte(readToken))
	g := startGateway(t, adminAuthConfig, vars{"readHash": hex.EncodeToString(sum[:])},
		startOptions{Env: []string{"ADMIN_TOKEN=" + adminToken}, AdminToken: adminToken})
	call := func(method, path, auth string) (*http.Response, []byte) {
		req := newRequest(t, method, "http://"+g.Admin+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return g.Do(req) // the plain client: no token unless given
	}

	reads := []string{"/status", "/config", "/routes", "/upstreams", "/metrics", "/nope"}
	for _, path := range append(reads, "/debug/pprof/", "/debug/pprof/goroutine?debug=1") {
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong-token-0000000000", "Basic " + adminToken,
			"Token " + adminToken, "Bearer " + adminToken + "x", "Bearer " + adminToken[:len(adminToken)-1]} {
			resp, body := call("GET", path, auth)
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusUnauthorized)
			if wa := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
				t.Errorf("GET %s with %q: WWW-Authenticate %q, want Bearer", path, auth, wa)
			}
			if strings.Contains(string(body), "goroutine") || strings.Contains(string(body), "health") {
				t.Errorf("GET %s with %q: a refusal shows admin data: %s", path, auth, body)
			}
		}
	}
	for _, auth := range []string{"Bearer " + adminToken, "bearer " + adminToken, "BEARER  " + adminToken} {
		for _, path := range append(reads[:len(reads)-1], "/debug/pprof/") {
			if resp, body := call("GET", path, auth); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s with the admin token (%q): %d %.200s", path, auth[:6], resp.StatusCode, body)
			}
		}
	}
	if _, cfg := call("GET", "/config", "Bearer "+readToken); strings.Contains(string(cfg), adminToken) || strings.Contains(string(cfg), hex.EncodeToString(sum[:])) {
		t.Errorf("/config shows an admin token or its hash:\n%s", cfg)
	}
	t.Run("read token", func(t *testing.T) {
		for _, path := range reads[:len(reads)-1] {
			if resp, body := call("GET", path, "Bearer "+readToken); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s with the read token: %d %.200s", path, resp.StatusCode, body)
			}
		}
		resp, body := call("GET", "/debug/pprof/goroutine?debug=1", "Bearer "+readToken)
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusForbidden)
		gen := g.Status().Generation
		resp, body = call("POST", "/reload", "Bearer "+readToken)
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusForbidden)
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("read token on reload: WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
		}
		if after := g.Status().Generation; after != gen {
			t.Errorf("a read token reloaded the config: generation %d -> %d", gen, after)
		}
	})
	t.Run("probes stay open", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			req := newRequest(t, "GET", "http://"+g.Admin+path, nil)
			req.Host = "probe.example" // probes call with any Host
			if resp, body := g.Do(req); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s without a token: %d %s, want 200", path, resp.StatusCode, body)
			}
		}
	})
	t.Run("reload", func(t *testing.T) {
		gen := g.Status().Generation
		for _, auth := range []string{"", "Bearer " + readToken + "x"} {
			resp, body := call("POST", "/reload", auth)
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusUnauthorized)
		}
		if after := g.Status().Generation; after != gen {
			t.Fatalf("an unauthenticated POST /reload reloaded: generation %d -> %d", gen, after)
		}
		if code, body := g.Reload(); code != http.StatusOK {
			t.Fatalf("POST /reload with the admin token: %d %s", code, body)
		}
		if after := g.Status().Generation; after != gen+1 {
			t.Errorf("generation %d after an authorized reload, want %d", after, gen+1)
		}
	})
	t.Run("a reload cannot drop the tokens of an exposed admin API", func(t *testing.T) {
		gen := g.Status().Generation
		g.WriteConfig(adminNoAuthReload, nil)
		code, body := g.Reload()
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "admin.address") || !strings.Contains(string(body), "listens beyond loopback") {
			t.Errorf("reload without tokens on 0.0.0.0: %d %s, want 422 naming admin.address", code, body)
		}
		resp, body := call("GET", "/status", "")
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusUnauthorized)
		if after := g.Status().Generation; after != gen {
			t.Errorf("generation %d -> %d: the rejected config was applied", gen, after)
		}
	})
}

// adminNoAuthReload moves admin.address to loopback and drops the tokens;
// the running listener stays on 0.0.0.0, so the reload must be refused.
const adminNoAuthReload = `
listeners:
  - address: "{{.listen}}"
admin: { address: "127.0.0.1:0" }
routes:
  - name: health
    match: { path: /health }
    respond: { body: ok }
`

// adminOpenConfig is a loopback admin API without tokens, with profiles
// and one name of its own.
const adminOpenConfig = `
listeners:
  - address: "{{.listen}}"
admin:
  address: "{{.admin}}"
  pprof: true
  hosts: [gw-admin.example]
routes:
  - name: health
    match: { path: /health }
    respond: { body: ok }
`

func TestAdminCrossSiteWrites(t *testing.T) {
	needBinary(t)
	g := startGateway(t, adminOpenConfig, nil)
	self := "http://" + g.Admin
	type variant struct {
		origin, fetchSite, ctype, body string
	}
	var variants []variant
	for _, origin := range []string{"", self, strings.ToUpper(self), "null", "http://evil.example", "https://" + g.Admin, self + "/", "http://localhost" + g.Admin[strings.LastIndexByte(g.Admin, ':'):]} {
		for _, site := range []string{"", "same-origin", "none", "same-site", "cross-site"} {
			for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
				"multipart/form-data; boundary=xyz", "application/json", "Application/JSON; charset=utf-8", "application/json-seq", "application/jsonp", "text/json"} {
				for _, body := range []string{"", "{}"} {
					variants = append(variants, variant{origin, site, ct, body})
				}
			}
		}
	}
	gen := g.Status().Generation
	allowed := 0
	for _, v := range variants {
		var body io.Reader
		if v.body != "" {
			body = strings.NewReader(v.body)
		}
		req := newRequest(t, http.MethodPost, self+"/reload", body)
		for k, val := range map[string]string{"Origin": v.origin, "Sec-Fetch-Site": v.fetchSite, "Content-Type": v.ctype} {
			if val != "" {
				req.Header.Set(k, val)
			}
		}
		resp, got := g.Do(req)
		want := http.StatusOK
		sameOrigin := v.origin == "" || strings.EqualFold(v.origin, self)
		json := strings.HasPrefix(strings.ToLower(v.ctype), "application/json") && !strings.Contains(v.ctype, "-seq") && !strings.Contains(v.ctype, "jsonp")
		switch {
		case !sameOrigin || v.fetchSite == "same-site" || v.fetchSite == "cross-site":
			want = http.StatusForbidden
		case !json && (v.ctype != "" || v.body != ""):
			want = http.StatusUnsupportedMediaType
		default:
			allowed++
		}
		if resp.StatusCode != want {
			t.Errorf("POST /reload %+v: %d %s, want %d", v, resp.StatusCode, got, want)
		} else if want != http.StatusOK {
			checkError(t, resp.StatusCode, resp.Header, got, want)
		}
	}
	if after := g.Status().Generation; after != gen+uint64(allowed) {
		t.Errorf("generation %d -> %d after %d allowed reloads: a refused write reloaded, or an allowed one did not", gen, after, allowed)
	}
	if allowed == 0 {
		t.Fatal("no variant was allowed; the test proves nothing")
	}

	t.Run("cross-site reads", func(t *testing.T) {
		for _, h := range []map[string]string{{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}} {
			for _, path := range []string{"/config", "/debug/pprof/", "/status"} {
				req := newRequest(t, http.MethodGet, self+path, nil)
				for k, v := range h {
					req.Header.Set(k, v)
				}
				resp, body := g.Do(req)
				checkError(t, resp.StatusCode, resp.Header, body, http.StatusForbidden)
			}
		}
		req := newRequest(t, http.MethodGet, self+"/config", nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", self)
		if resp, body := g.Do(req); resp.StatusCode != http.StatusOK {
			t.Errorf("same-origin GET /config: %d %s", resp.StatusCode, body)
		}
	})
}

func TestAdminHost(t *testing.T) {
	needBinary(t)
	g := startGateway(t, adminOpenConfig, nil)
	_, port, _ := net.SplitHostPort(g.Admin)
	refused := []string{"evil.example", "evil.example:" + port, "127.0.0.1.evil.example", "localhost.evil.example:" + port,
		"gw-admin.example.evil.example", "xgw-admin.example", "sub.gw-admin.example", "localhost..", "[::1].evil.example"}
	allowed := []string{g.Admin, "127.0.0.1", "localhost:" + port, "LOCALHOST.:" + port, "LocalHost", "[::1]:" + port,
		"gw-admin.example", "GW-Admin.Example.:" + port, "gw-admin.example.:80", "10.9.8.7:1234", "[2001:db8::1]"}
	for _, path := range []string{"/config", "/debug/pprof/", "/status"} {
		for _, host := range refused {
			req := newRequest(t, http.MethodGet, "http://"+g.Admin+path, nil)
			req.Host = host
			resp, body := g.Do(req)
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusMisdirectedRequest)
			if strings.Contains(string(body), "health") || strings.Contains(string(body), "goroutine") {
				t.Errorf("Host %s %s: the refusal shows admin data: %s", host, path, body)
			}
		}
		for _, host := range allowed {
			req := newRequest(t, http.MethodGet, "http://"+g.Admin+path, nil)
			req.Host = host
			if resp, body := g.Do(req); resp.StatusCode != http.StatusOK {
				t.Errorf("Host %s %s: %d %.200s, want 200", host, path, resp.StatusCode, body)
			}
		}
	}
	// Writes too: a rebinding page's POST is same-origin to the browser.
	gen := g.Status().Generation
	req := newRequest(t, http.MethodPost, "http://"+g.Admin+"/reload", nil)
	req.Host = "evil.example:" + port
	req.Header.Set("Origin", "http://evil.example:"+port)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, body := g.Do(req)
	checkError(t, resp.StatusCode, resp.Header, body, http.StatusMisdirectedRequest)
	if after := g.Status().Generation; after != gen {
		t.Errorf("a rebound POST /reload reloaded: generation %d -> %d", gen, after)
	}
}

const adminTLSConfig = `
listeners:
  - address: "{{.listen}}"
admin:
  address: "{{.admin}}"
  tls: { cert: "{{.cert}}", key: "{{.key}}", client_ca: "{{.ca}}" }
routes:
  - name: health
    match: { path: /health }
    respond: { body: ok }
`

func TestAdminTLS(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	server := gatewaytest.NewCert(t, dir, "admin.test", nil, false, false)
	ca := gatewaytest.NewCert(t, dir, "ops-ca", nil, true, false)
	client := gatewaytest.NewCert(t, dir, "ops", ca, false, true)
	trust := &tls.Config{RootCAs: gatewaytest.CertPool(server), ServerName: "admin.test", Certificates: []tls.Certificate{client.Pair()}}
	g := startGateway(t, adminTLSConfig, vars{"cert": server.CertFile, "key": server.KeyFile, "ca": ca.CertFile},
		startOptions{AdminTLS: trust})

	if st := g.Status(); st.Generation != 1 {
		t.Errorf("GET /status over TLS: %+v", st)
	}
	https := "https://" + g.Admin
	try := func(cfg *tls.Config, method, url string, h map[string]string) (int, error) {
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		req := newRequest(t, method, url, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if _, err := try(&tls.Config{ServerName: "admin.test", Certificates: trust.Certificates}, "GET", https+"/status", nil); err == nil {
		t.Error("a client that does not trust the admin's certificate connected")
	}
	noCert := &tls.Config{RootCAs: trust.RootCAs, ServerName: "admin.test"}
	if code, err := try(noCert, "GET", https+"/healthz", nil); err == nil {
		t.Errorf("a client without a certificate got %d; admin.tls.client_ca requires one", code)
	}
	if code, err := try(nil, "GET", "http://"+g.Admin+"/status", nil); err == nil && code == http.StatusOK {
		t.Error("plain HTTP reached the TLS admin API")
	}
	// The admin's own origin is https now.
	gen := g.Status().Generation
	if code, err := try(trust, "POST", https+"/reload", map[string]string{"Origin": "http://" + g.Admin}); err != nil || code != http.StatusForbidden {
		t.Errorf("POST /reload with Origin http:// to the TLS admin: %d %v, want 403", code, err)
	}
	if code, err := try(trust, "POST", https+"/reload", map[string]string{"Origin": https}); err != nil || code != http.StatusOK {
		t.Errorf("same-origin POST /reload over TLS: %d %v, want 200", code, err)
	}
	if after := g.Status().Generation; after != gen+1 {
		t.Errorf("generation %d -> %d, want one reload", gen, after)
	}
}

func TestAdminExposedRefused(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	exposed := "listeners:\n  - address: \"127.0.0.1:0\"\nadmin:\n  address: \"0.0.0.0:0\"\nroutes:\n  - name: h\n    respond: { body: ok }\n"
	writeFile(t, dir, "exposed.yaml", exposed)

	_, errOut, code := runCLI(t, dir, "serve", "-c", "exposed.yaml")
	for _, want := range []string{"exposed.yaml:4:3: admin.address", "listens beyond loopback", "admin.auth.tokens", "allow_unauthenticated: true"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("serve with an unauthenticated admin API on 0.0.0.0: exit %d, stderr %q; want 1 and %q", code, errOut, want)
		}
	}
	if strings.Contains(errOut, "gateway started") || strings.Contains(errOut, "admin API listening") {
		t.Errorf("serve opened listeners before refusing:\n%s", errOut)
	}

	out, errOut, code := runCLI(t, dir, "validate", "-c", "exposed.yaml")
	if code != 0 || !strings.Contains(out, "exposed.yaml: ok") || !strings.Contains(errOut, "warning: exposed.yaml:4:3: admin.address") {
		t.Errorf("validate: exit %d, stdout %q, stderr %q; want 0, ok, and a warning at exposed.yaml:4:3", code, out, errOut)
	}

	t.Run("allow_unauthenticated", func(t *testing.T) {
		g := startGateway(t, strings.Replace(exposed, `"0.0.0.0:0"`, "\"0.0.0.0:0\"\n  allow_unauthenticated: true", 1), nil)
		if !strings.HasPrefix(g.Admin, "0.0.0.0:") && !strings.HasPrefix(g.Admin, "[::]:") {
			t.Errorf("admin API on %s, want 0.0.0.0", g.Admin)
		}
		if st := g.Status(); st.Generation != 1 {
			t.Errorf("status %+v", st)
		}
	})
}
