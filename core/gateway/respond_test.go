package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

func TestRedirectLocation(t *testing.T) {
	for _, tt := range []struct {
		name string
		rc   config.Redirect
		url  string
		want string
	}{
		{"own path, query kept", config.Redirect{}, "http://a.example.com/x/y?q=1", "/x/y?q=1"},
		{"https drops :80", config.Redirect{HTTPS: true}, "http://a.example.com:80/x?q=1", "https://a.example.com/x?q=1"},
		{"https keeps another port", config.Redirect{HTTPS: true}, "http://a.example.com:8080/x", "https://a.example.com:8080/x"},
		{"https with port", config.Redirect{HTTPS: true, Port: 8443}, "http://a.example.com:8080/x", "https://a.example.com:8443/x"},
		{"https with port 443", config.Redirect{HTTPS: true, Port: 443}, "http://a.example.com:8080/x", "https://a.example.com/x"},
		{"https IPv6", config.Redirect{HTTPS: true}, "http://[::1]:8080/x", "https://[::1]:8080/x"},
		{"strip query", config.Redirect{Location: "/v2/users/{id}", StripQuery: true}, "http://a/users/7?q=1", "/v2/users/7"},
		{"location query and request query", config.Redirect{Location: "/search?src={header.X-Src}"}, "http://a/users/7?q=1", "/search?src=app&q=1"},
		{"absolute", config.Redirect{Location: "https://new.example.com/u/{id}"}, "http://a/users/7", "https://new.example.com/u/7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.rc.Status = 301
			l, err := compileRedirect(&tt.rc, []string{"id"}, "routes[0].redirect")
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", tt.url, nil)
			r.Header.Set("X-Src", "app")
			x := &filter.Exchange{Request: r, Params: router.Params{{Name: "id", Value: "7"}}}
			resp := l.render(x)
			if got := resp.Header.Get("Location"); got != tt.want || resp.Status != 301 || len(resp.Body) != 0 {
				t.Errorf("Location %q, status %d, body %q; want %q, 301, empty", got, resp.Status, resp.Body, tt.want)
			}
		})
	}
	if _, err := compileRedirect(&config.Redirect{Location: "/u/{user}"}, []string{"id"}, "routes[0].redirect"); err == nil {
		t.Error("an unknown placeholder in the location compiled; want an error")
	}
}

func TestRespondTemplates(t *testing.T) {
	l, err := compileRespond(&config.Respond{Status: 200,
		Headers: map[string]string{"X-Id": "{id}", "Content-Type": "application/json"},
		Body:    `{"id":"{id}","host":"{request.host}"}`}, []string{"id"}, "routes[0].respond")
	if err != nil {
		t.Fatal(err)
	}
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "http://api.example.com/u/7", nil), Params: router.Params{{Name: "id", Value: "7"}}}
	resp := l.render(x)
	if got, want := string(resp.Body), `{"id":"7","host":"api.example.com"}`; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if resp.Header.Get("X-Id") != "7" || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Content-Length") != "35" {
		t.Errorf("headers %v", resp.Header)
	}
	_, err = compileRespond(&config.Respond{Headers: map[string]string{"X-A": "{nope}"}}, nil, "routes[0].respond")
	if path, _, ok := config.AsFieldErr(err); !ok || path != "routes[0].respond.headers.X-A" {
		t.Errorf("error %v at %q; want one at routes[0].respond.headers.X-A", err, path)
	}
}

// An https upgrade of the same URL answers plain-HTTP requests only: a
// request that came over https (here: as a trusted proxy reports it) falls
// through to the next route instead of being sent to itself forever. A
// client that is not a trusted proxy cannot claim https.
func TestHTTPSUpgradeMatchesPlainHTTPOnly(t *testing.T) {
	up := echoUpstream(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "gw.yaml")
	cfg := fmt.Sprintf(`
listeners:
  - { name: main, address: "127.0.0.1:0", trusted_proxies: [127.0.0.1/32] }
  - { name: open, address: "127.0.0.1:0" }
admin: { address: "off" }
upstreams:
  echo: { targets: [{ url: %q }] }
routes:
  - name: to-https
    match: { prefix: / }
    redirect: { https: true, status: 308 }
  - name: app
    match: { prefix: / }
    upstream: echo
`, up.URL)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, base := startGateway(t, file)
	open := "http://" + g.Addrs()["open"].String()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(url string, hdr ...string) (int, string, string) {
		req, _ := http.NewRequest("GET", url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	host := strings.TrimPrefix(base, "http://")
	if code, loc, _ := do(base + "/a?q=1"); code != 308 || loc != "https://"+host+"/a?q=1" {
		t.Errorf("plain request: %d Location %q; want 308 to https://%s/a?q=1", code, loc, host)
	}
	for _, proto := range []string{"https", "HTTPS", "http, https"} {
		if code, _, body := do(base+"/a?q=1", "X-Forwarded-Proto", proto); code != 200 || body != "GET /a?q=1" {
			t.Errorf("X-Forwarded-Proto %q from a trusted proxy: %d %q; want the app route", proto, code, body)
		}
	}
	if code, _, _ := do(base+"/a", "X-Forwarded-Proto", "https, http"); code != 308 {
		t.Errorf("a trusted proxy that saw http (last element): %d, want the redirect", code)
	}
	if code, _, _ := do(open+"/a", "X-Forwarded-Proto", "https"); code != 308 {
		t.Errorf("X-Forwarded-Proto from an untrusted client: %d, want the redirect", code)
	}
}
