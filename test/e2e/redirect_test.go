package e2e

import (
	"strings"
	"testing"
)

const redirectConfig = head + `
routes:
  - name: upgrade
    match: { hosts: [www.example.com] }
    redirect: { https: true, status: 308 }
  - name: moved
    match: { path: "/users/{id}" }
    redirect: { status: 301, location: "/v2/users/{id}?from={header.X-Client}", strip_query: true }
  - name: away
    match: { path: /away }
    redirect: { location: "https://new.example.com{request.path}" }
  - name: info
    match: { path: "/info/{id}" }
    respond:
      headers: { Content-Type: application/json, X-Host: "{request.host}" }
      body: '{"id":"{id}","lang":"{query.lang}","ok":true}'
`

// Redirects and templated local responses, through the binary, read off a
// raw connection so nothing follows or rewrites the redirect.
func TestRedirectsAndLocalResponses(t *testing.T) {
	needBinary(t)
	g := startGateway(t, redirectConfig, vars{})
	get := func(host, target string, headers ...string) rawResponse {
		req := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
		for _, h := range headers {
			req += h + "\r\n"
		}
		return rawRequest(t, g.Listen, req+"\r\n")
	}
	for _, tt := range []struct {
		name, host, target, header string
		status                     int
		location                   string
	}{
		{"https upgrade drops :80", "www.example.com:80", "/a/b?x=1", "", 308, "https://www.example.com/a/b?x=1"},
		{"https upgrade keeps an explicit port", "www.example.com:8080", "/a", "", 308, "https://www.example.com:8080/a"},
		{"location template, query stripped", "api", "/users/42?debug=1", "X-Client: app", 301, "/v2/users/42?from=app"},
		{"absolute location, default 302, query kept", "api", "/away?q=2", "", 302, "https://new.example.com/away?q=2"},
	} {
		var hs []string
		if tt.header != "" {
			hs = append(hs, tt.header)
		}
		resp := get(tt.host, tt.target, hs...)
		if resp.Status != tt.status || resp.Header.Get("Location") != tt.location || len(resp.Body) != 0 {
			t.Errorf("%s: %d, Location %q, body %q; want %d, %q, empty",
				tt.name, resp.Status, resp.Header.Get("Location"), resp.Body, tt.status, tt.location)
		}
	}

	resp := get("api.example.com", "/info/7?lang=de")
	if want := `{"id":"7","lang":"de","ok":true}`; resp.Status != 200 || string(resp.Body) != want || resp.Header.Get("X-Host") != "api.example.com" {
		t.Errorf("respond: %d, X-Host %q, body %s; want 200, api.example.com, %s", resp.Status, resp.Header.Get("X-Host"), resp.Body, want)
	}
}

// A placeholder typo in a redirect or respond template fails validate at
// its line.
func TestValidateRespondTemplates(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	writeFile(t, dir, "bad.yaml", `listeners:
  - address: "127.0.0.1:0"
admin: { address: "off" }
routes:
  - name: a
    match: { path: "/u/{id}" }
    redirect: { location: "/v2/{idd}" }
  - name: b
    match: { path: /b }
    respond: { body: '{"host":"{requst.host}"}' }
`)
	_, errOut, code := runCLI(t, dir, "validate", "-c", "bad.yaml")
	for _, want := range []string{
		`bad.yaml:7:17: routes[0].redirect.location: unknown placeholder {idd}; valid: a route parameter (id)`,
		`bad.yaml:10:16: routes[1].respond.body: unknown placeholder {requst.host}`, `did you mean {request.host}?`, `did you mean {id}?`,
	} {
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d; stderr lacks %q:\n%s", code, want, errOut)
		}
	}
}
