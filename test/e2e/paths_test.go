package e2e

import (
	"net/http"
	"testing"
)

const pathsConfig = head + `
upstreams:
  public: { targets: [{ url: "{{.public}}" }] }
  admin:  { targets: [{ url: "{{.admin_up}}" }] }
routes:
  - name: public
    match: { prefix: /public }
    upstream: public
  - name: admin
    match: { prefix: /admin }
    upstream: admin
`

// TestPathConfusion sends paths byte for byte (Go's client would clean some)
// and checks that what the router matched is what the upstream received.
func TestPathConfusion(t *testing.T) {
	needBinary(t)
	public, admin := newEcho(t, "public"), newEcho(t, "admin")
	g := startGateway(t, pathsConfig, vars{"public": public.URL, "admin_up": admin.URL})

	rejected := []string{
		"/public/%2e%2e/admin",
		"/public/%2E%2E/admin",
		"/public/.%2e/admin",
		"/public/%2e/../admin",
		"/a%2fb",
		"/a%2Fb",
		"/public/a%5cb",
		"/public/a%00b",
	}
	for _, target := range rejected {
		t.Run("400 "+target, func(t *testing.T) {
			resp := rawGet(t, g.Listen, target)
			checkError(t, resp.Status, resp.Header, resp.Body, http.StatusBadRequest)
		})
	}
	// An invalid escape never gets past net/http's request-line parsing, so
	// its 400 is net/http's plain text; it must still reach no upstream.
	if resp := rawGet(t, g.Listen, "/public/%zz"); resp.Status != http.StatusBadRequest {
		t.Errorf("/public/%%zz: status %d, want 400", resp.Status)
	}
	if n := admin.hits.Load() + public.hits.Load(); n != 0 {
		t.Errorf("rejected paths reached upstreams %d times, want 0", n)
	}

	routed := []struct {
		target   string
		upstream string
		uri      string // the request-URI the upstream must receive
	}{
		{"/public/../admin", "admin", "/admin"},
		{"/public/../../admin/x", "admin", "/admin/x"},
		{"/public/./a/../b", "public", "/public/b"},
		{"//admin", "admin", "/admin"},
		{"/public//a///b", "public", "/public/a/b"},
		{"/%61dmin", "admin", "/admin"},            // unreserved escape decoded, then routed
		{"/public/%41%7e", "public", "/public/A~"}, // unreserved escapes decoded
		{"/public/caf%c3%a9", "public", "/public/caf%C3%A9"},
		{"/public/a%20b?q=%2e%2e", "public", "/public/a%20b?q=%2e%2e"}, // the query is not a path
	}
	for _, tt := range routed {
		t.Run(tt.target, func(t *testing.T) {
			resp := rawGet(t, g.Listen, tt.target)
			s := decodeSeen(t, resp.Status, resp.Body)
			if s.Upstream != tt.upstream {
				t.Errorf("routed to %q, want %q", s.Upstream, tt.upstream)
			}
			if s.RequestURI != tt.uri {
				t.Errorf("upstream received %q, want the canonical %q", s.RequestURI, tt.uri)
			}
		})
	}
}
