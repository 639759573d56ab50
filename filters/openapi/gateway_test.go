package openapi_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/wasmgate/wasmgate/filters/all"
	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// recorder is an upstream that records the requests that reach it.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.seen = append(rc.seen, r.Method+" "+r.URL.RequestURI())
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `[]`)
}

func (rc *recorder) requests() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.seen...)
}

func send(t *testing.T, method, url, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestThroughGateway runs the filter on a route that fronts the whole API
// (a prefix match, and a rewrite the filter must not see): valid requests
// reach the upstream, invalid ones are answered by the gateway and never
// arrive, and the portal lists the document the filter publishes.
func TestThroughGateway(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
portal: { title: Test portal }
upstreams: { wh: { targets: [{ url: %q }] } }
routes:
  - name: warehouse
    match: { prefix: /v1 }
    rewrite: { strip_prefix: /v1 }
    filters:
      - openapi: { spec: %q, name: warehouse }
    upstream: wh
`, up.URL, abs(t, "testdata/warehouse.yaml"))
	_, base, _ := gwtest.Serve(t, cfg)

	if code, body := send(t, "GET", base+"/v1/orders?limit=5", ""); code != 200 || body != "[]" {
		t.Fatalf("valid GET: %d %s", code, body)
	}
	code, body := send(t, "GET", base+"/v1/orders?limit=500", "")
	if code != 400 || !strings.Contains(body, `{"location":"query.limit","message":"must be \u003c= 100"}`) {
		t.Errorf("invalid query: %d %s", code, body)
	}
	code, body = send(t, "POST", base+"/v1/orders", `{"customer":{}, "items":[{"sku":"ABC-1234","qty":1000}], "payment":{"method":"card","last4":"1234"}}`,
		"Content-Type", "application/json", "Idempotency-Key", "6f1c1f0e-8d5a-4c1e-9a4b-1f2e3d4c5b6a")
	if code != 400 || !strings.Contains(body, "/body/items/0/qty") || !strings.Contains(body, "/body/customer") {
		t.Errorf("invalid body: %d %s", code, body)
	}
	if code, _ := send(t, "POST", base+"/v1/orders", "<x/>", "Content-Type", "text/xml", "Idempotency-Key", "6f1c1f0e-8d5a-4c1e-9a4b-1f2e3d4c5b6a"); code != 415 {
		t.Errorf("xml body: %d, want 415", code)
	}
	if code, _ := send(t, "DELETE", base+"/v1/orders/3", ""); code != 405 {
		t.Errorf("DELETE: %d, want 405", code)
	}
	if code, _ := send(t, "GET", base+"/v1/nowhere", ""); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
	if got, want := rec.requests(), []string{"GET /orders?limit=5"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the upstream saw %q, want only %q", got, want)
	}
	code, body = send(t, "GET", base+"/docs/openapi/warehouse.json", "")
	if code != 200 || !strings.Contains(body, `"title":"Warehouse"`) {
		t.Errorf("the portal's document: %d %.200s", code, body)
	}
	if code, page := send(t, "GET", base+"/docs/", ""); code != 200 || !strings.Contains(page, "warehouse") {
		t.Errorf("the portal page does not list the API: %d", code)
	}
}

// TestRefresh serves the document from a URL, changes it, and waits for
// the filter to enforce the new one; a broken document keeps the last
// good one in use.
func TestRefresh(t *testing.T) {
	var doc atomic.Value
	doc.Store(docWithMax(100))
	var fetches atomic.Int64
	spec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		io.WriteString(w, doc.Load().(string))
	}))
	defer spec.Close()
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { up: { targets: [{ url: %q }] } }
routes:
  - name: api
    match: { prefix: / }
    filters:
      - openapi: { spec_url: %q, refresh: 1s }
    upstream: up
`, up.URL, spec.URL)
	_, base, _ := gwtest.Serve(t, cfg)
	status := func() int { c, _ := send(t, "GET", base+"/things?n=50", ""); return c }
	if c := status(); c != 200 {
		t.Fatalf("n=50 under maximum 100: %d", c)
	}
	doc.Store(docWithMax(10))
	waitFor(t, "the new document (maximum 10) to be enforced", func() bool { return status() == 400 })

	doc.Store("openapi: 3.1.0\ninfo: [broken")
	n := fetches.Load()
	waitFor(t, "two more fetches of the broken document", func() bool { return fetches.Load() >= n+2 })
	if c := status(); c != 400 {
		t.Errorf("after a broken document: %d, want the last good one (400)", c)
	}
}

func docWithMax(max int) string {
	return fmt.Sprintf(`openapi: 3.1.0
info: { title: Things, version: "1" }
paths:
  /things:
    get:
      parameters:
        - { name: n, in: query, schema: { type: integer, maximum: %d } }
      responses: { "200": { description: OK } }
`, max)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronization
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd + "/" + p
}

const bodiesDoc = `
openapi: 3.1.0
info: { title: Bodies, version: "1" }
paths:
  /things/{id}:
    post:
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, pattern: "^[a-z]+$" } }
      requestBody:
        required: true
        content:
          application/json:
            schema: { type: object, required: [n], properties: { n: { type: integer, maximum: 10 } } }
      responses:
        "200": { description: OK. }
`

// TestBodiesThroughGateway sends bodies as clients do (chunked, gzip, too
// large) and paths the gateway canonicalizes: the filter checks what the
// upstream will receive, and refuses what it cannot check.
func TestBodiesThroughGateway(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	spec := filepath.Join(t.TempDir(), "bodies.yaml")
	if err := os.WriteFile(spec, []byte(bodiesDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { up: { targets: [{ url: %q }] } }
routes:
  - name: plain
    match: { prefix: /things }
    filters:
      - openapi: { spec: %q, max_body: 1KiB }
    upstream: up
  - name: zipped
    match: { prefix: /z }
    rewrite: { strip_prefix: /z }
    filters:
      - compress: { decompress_requests: {} }
      - openapi: { spec: %q, base_path: /z }
    upstream: up
`, up.URL, spec, spec)
	_, base, _ := gwtest.Serve(t, cfg)
	post := func(path string, body io.Reader, hdr ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	gz := func(s string) io.Reader {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		io.WriteString(w, s)
		w.Close()
		return &b
	}
	// chunked: a reader of unknown length
	chunked := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

	for _, tc := range []struct {
		name, path string
		body       io.Reader
		hdr        []string
		status     int
		want       string
	}{
		{"valid", "/things/a", strings.NewReader(`{"n":1}`), nil, 200, ""},
		{"chunked valid", "/things/b", chunked(`{"n":2}`), nil, 200, ""},
		{"chunked invalid", "/things/a", chunked(`{"n":11}`), nil, 400, "/body/n"},
		{"repeated key", "/things/a", strings.NewReader(`{"n":1,"n":99}`), nil, 400, "appears more than once"},
		{"over max_body", "/things/a", strings.NewReader(`{"n":1,"pad":"` + strings.Repeat("x", 2048) + `"}`), nil, 413, ""},
		{"chunked over max_body", "/things/a", chunked(`{"n":1,"pad":"` + strings.Repeat("x", 2048) + `"}`), nil, 413, ""},
		{"gzip without a decoder", "/things/a", gz(`{"n":1}`), []string{"Content-Encoding", "gzip"}, 415, "Content-Encoding"},
		{"gzip decoded first, valid", "/z/things/c", gz(`{"n":3}`), []string{"Content-Encoding", "gzip"}, 200, ""},
		{"gzip decoded first, invalid", "/z/things/c", gz(`{"n":30}`), []string{"Content-Encoding", "gzip"}, 400, "/body/n"},
		{"encoded slash", "/things/a%2Fb", strings.NewReader(`{"n":1}`), nil, 400, ""},
		{"dot segments", "/x/../things/d", strings.NewReader(`{"n":4}`), nil, 200, ""},
		{"encoded dot segment", "/x/%2e%2e/things/a", strings.NewReader(`{"n":1}`), nil, 400, ""},
		{"path parameter after canonicalizing", "/things/x/../A", strings.NewReader(`{"n":1}`), nil, 400, "path.id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(tc.path, tc.body, tc.hdr...)
			if code != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s, want %d %q", code, body, tc.status, tc.want)
			}
		})
	}
	want := []string{"POST /things/a", "POST /things/b", "POST /things/c", "POST /things/d"}
	if got := rec.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the upstream saw %q, want %q", got, want)
	}
}
