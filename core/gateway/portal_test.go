package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

// testPublisher publishes whatever document publishedDoc holds, as the
// openapi filter publishes the document it loaded (and refreshed).
type testPublisher struct {
	Name string `yaml:"name"`
}

type publishingFilter struct{ name string }

var publishedDoc atomic.Pointer[[]byte]

func (c *testPublisher) Build(*filter.BuildContext) (filter.Filter, error) {
	return &publishingFilter{name: c.Name}, nil
}

func (f *publishingFilter) OnRequest(*filter.Exchange) *filter.Response { return nil }

func (f *publishingFilter) PublishedAPI() filter.PublishedAPI {
	return filter.PublishedAPI{Name: f.name, Document: *publishedDoc.Load()}
}

// testRequirement asks for a header, as an auth filter would.
type testRequirement struct {
	Header string `yaml:"header"`
}

type requiringFilter struct{ header string }

func (c *testRequirement) Build(*filter.BuildContext) (filter.Filter, error) {
	return &requiringFilter{header: c.Header}, nil
}

func (f *requiringFilter) OnRequest(*filter.Exchange) *filter.Response { return nil }

func (f *requiringFilter) Requirement() filter.Requirement {
	return filter.Requirement{Kind: filter.RequiresAuth, Title: "Test token", Details: []filter.Detail{{Label: "Header", Value: f.header}}}
}

func init() {
	filter.Register("test_publisher", func() filter.Config { return new(testPublisher) })
	filter.Register("test_requirement", func() filter.Config { return new(testRequirement) })
}

func setPublished(doc string) {
	b := []byte(doc)
	publishedDoc.Store(&b)
}

const inventoryDoc = `{"openapi":"3.0.3","info":{"title":"Inventory","version":"1.0"},
 "paths":{"/stock":{"get":{"summary":"Stock levels","responses":{"200":{"description":"ok",
 "content":{"application/json":{"schema":{"$ref":"#/components/schemas/Level"}}}}}}}},
 "components":{"schemas":{"Level":{"type":"object","properties":{"sku":{"type":"string"}}}}}}`

const usersDoc = `openapi: 3.1.0
info:
  title: Users <b>API</b>
  version: "2.0"
  description: 'Users. <script>alert("xss")</script>'
paths:
  /users/{id}:
    get:
      summary: One user
      description: '<img src=x onerror=alert(1)>'
      parameters:
        - { name: id, in: path, required: true, schema: { type: integer } }
      responses:
        "200":
          description: The user.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Level" }
              example: { name: "</pre><script>alert(2)</script>" }
components:
  schemas:
    Level: { type: object, properties: { name: { type: string } } }
`

func startPortal(t *testing.T) (g *Gateway, main, other, dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(usersDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	setPublished(inventoryDoc)
	cfg := `
listeners:
  - { name: main, address: "127.0.0.1:0" }
  - { name: other, address: "127.0.0.1:0" }
admin: { address: "off" }
portal: { listener: main, title: "Acme developers" }
versioning: { by: path }
routes:
  - name: users-v2
    version: v2
    match: { prefix: /users }
    docs: { file: users.yaml, name: users }
    deprecation: { at: 2020-01-01, sunset: 2999-06-30, link: "https://example.com/migrate" }
    filters: [{ test_requirement: { header: X-Test-Token } }]
    respond: { body: "users" }
  - name: stock
    match: { path: /stock }
    filters: [{ test_publisher: { name: inventory } }]
    respond: { body: "stock" }
  - name: under-docs
    match: { prefix: /docs/shadowed }
    respond: { body: "a route under /docs" }
`
	file := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, main = startGateway(t, file)
	return g, main, "http://" + g.Addrs()["other"].String(), dir
}

func fetch(t *testing.T, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestPortalPage(t *testing.T) {
	g, main, other, _ := startPortal(t)

	resp, _ := fetch(t, "GET", main+"/docs?x=1")
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "/docs/?x=1" {
		t.Errorf("GET /docs: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := fetch(t, "GET", main+"/docs/")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /docs/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		"Acme developers",
		`data-api="users"`, `data-api="inventory"`, // both sources
		"Users &lt;b&gt;API&lt;/b&gt;",
		"&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;",                      // description
		"&lt;img src=x onerror=alert(1)&gt;",                                     // operation description
		"&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;",                      // example
		`<time data-at>2020-01-01</time>`, `<time data-sunset>2999-06-30</time>`, // deprecation
		`href="https://example.com/migrate"`,
		"version v2 (in the path)", "<code>/v2/users/*</code>",
		"Test token", "X-Test-Token", // the route's filter's requirement
		"Stock levels",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>API"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}

	// The raw documents and the merged one.
	resp, raw := fetch(t, "GET", main+"/docs/openapi/users.json")
	var users map[string]any
	if err := json.Unmarshal([]byte(raw), &users); err != nil || resp.Header.Get("Content-Type") != "application/json" || users["openapi"] != "3.1.0" {
		t.Errorf("users.json: %v %q", err, raw)
	}
	_, raw = fetch(t, "GET", main+"/docs/openapi.json")
	var merged struct {
		Paths      map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(raw), &merged); err != nil {
		t.Fatal(err)
	}
	if merged.Paths["/users/{id}"] == nil || merged.Paths["/stock"] == nil ||
		merged.Components.Schemas["users.Level"] == nil || merged.Components.Schemas["inventory.Level"] == nil {
		t.Errorf("merged: %s", raw)
	}
	if !strings.Contains(raw, `"#/components/schemas/inventory.Level"`) {
		t.Errorf("merged refs not renamed: %s", raw)
	}
	if resp, body := fetch(t, "GET", main+"/docs/openapi/nope.json"); resp.StatusCode != 404 || !strings.Contains(body, `"status":404`) {
		t.Errorf("an unknown document: %d %s", resp.StatusCode, body)
	}
	if resp, body := fetch(t, "POST", main+"/docs/"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(body, `"error"`) {
		t.Errorf("POST: %d %s", resp.StatusCode, body)
	}
	if resp, body := fetch(t, "GET", main+"/docs/assets/portal.css"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, "prefers-color-scheme") {
		t.Errorf("stylesheet: %d", resp.StatusCode)
	}

	// Built once: the same bytes, so an ETag that revalidates.
	resp, _ = fetch(t, "GET", main+"/docs/")
	etag := resp.Header.Get("Etag")
	if resp, _ := fetch(t, "GET", main+"/docs/", "If-None-Match", etag); etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %q: %d", etag, resp.StatusCode)
	}

	// The portal answers first on its listener only; the route under its
	// prefix is reached on the other one, and validate warns of it.
	if resp, body := fetch(t, "GET", other+"/docs/shadowed"); resp.StatusCode != 200 || body != "a route under /docs" {
		t.Errorf("the other listener: %d %q", resp.StatusCode, body)
	}
	if resp, _ := fetch(t, "GET", main+"/docs/shadowed"); resp.StatusCode != 404 {
		t.Errorf("under the portal's prefix on its listener: %d, want the portal's 404", resp.StatusCode)
	}
	if w := g.Current().Warnings.Error(); !strings.Contains(w, `route "under-docs" matches under /docs`) {
		t.Errorf("warnings: %q", w)
	}
	// Versioned routes still route.
	if _, body := fetch(t, "GET", main+"/v2/users/1"); body != "users" {
		t.Errorf("/v2/users/1: %q", body)
	}
}

// A publisher's new document (a refreshed URL) shows without a reload,
// and is read once, not per request.
func TestPortalFollowsPublisher(t *testing.T) {
	g, main, _, dir := startPortal(t)
	gen := g.Current().Generation
	_, page := fetch(t, "GET", main+"/docs/")
	if !strings.Contains(page, "Stock levels") {
		t.Fatal("the publisher's document is not on the page")
	}
	setPublished(strings.Replace(inventoryDoc, "Stock levels", "Stock by warehouse", 1))
	_, page = fetch(t, "GET", main+"/docs/")
	if !strings.Contains(page, "Stock by warehouse") || strings.Contains(page, "Stock levels") {
		t.Error("the page did not follow the publisher's new document")
	}
	_, raw := fetch(t, "GET", main+"/docs/openapi/inventory.json")
	if !strings.Contains(raw, "Stock by warehouse") {
		t.Errorf("inventory.json: %s", raw)
	}
	// A broken new document leaves the last good page.
	setPublished(`{"openapi": "3.1.0"}`)
	_, page = fetch(t, "GET", main+"/docs/")
	if !strings.Contains(page, "Stock by warehouse") {
		t.Error("a broken published document replaced the page")
	}
	if g.Current().Generation != gen {
		t.Error("the config reloaded")
	}

	// An edited docs: file is read again on reload.
	setPublished(inventoryDoc)
	edited := strings.Replace(usersDoc, "One user", "Exactly one user", 1)
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, page = fetch(t, "GET", main+"/docs/"); !strings.Contains(page, "Exactly one user") {
		t.Error("the edited document is not on the page after a reload")
	}
	// A broken one is refused with its line.
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("openapi: 3.1.0\ninfo: {version: '1'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := g.Reload()
	if err == nil || !strings.Contains(err.Error(), "routes[0].docs.file") || !strings.Contains(err.Error(), "users.yaml:2: info.title is missing") {
		t.Errorf("reload of a broken document: %v", err)
	}
}
