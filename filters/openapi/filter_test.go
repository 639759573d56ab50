package openapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

func build(t testing.TB, c *Config) *Filter {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	f, err := c.Build(&filter.BuildContext{Route: "api"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return f.(*Filter)
}

func exchange(method, target string, body string, hdr ...string) *filter.Exchange {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	x := &filter.Exchange{Request: r}
	if body != "" {
		x.RequestBody = []byte(body)
	}
	return x
}

const validOrder = `{
  "customer": {"name": "Ada", "email": "ada@example.com",
               "address": {"street": "Main 1", "city": "Berlin", "zip": "10115", "country": "DE"}},
  "items": [{"sku": "ABC-1234", "qty": 2, "price": 9.5, "dimensions": [1, 2.5, 3]},
            {"sku": "XYZ-0001", "qty": 100}],
  "payment": {"method": "card", "last4": "4242"},
  "note": null, "deliver_by": "2027-01-31", "gift": true,
  "labels": {"floor": "2"}, "contact_ids": [1, 2, 3]
}`

const key = "6f1c1f0e-8d5a-4c1e-9a4b-1f2e3d4c5b6a"

type problemsOut struct {
	Status   int       `json:"status"`
	Problems []Problem `json:"problems"`
	Omitted  int       `json:"omitted"`
}

func locations(t *testing.T, resp *filter.Response) []string {
	t.Helper()
	var out problemsOut
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatalf("400 body %q: %v", resp.Body, err)
	}
	var locs []string
	for _, p := range out.Problems {
		locs = append(locs, p.Location+": "+p.Message)
	}
	return locs
}

// TestRequests runs valid and invalid requests of every kind against the
// warehouse document: each invalid one must be refused with the status
// the specification calls for and name every problem where it is.
func TestRequests(t *testing.T) {
	f := build(t, &Config{Spec: "testdata/warehouse.yaml"})
	post := []string{"Content-Type", "application/json", "Idempotency-Key", key}
	cases := []struct {
		name        string
		method, url string
		body        string
		hdr         []string
		status      int      // 0: let through
		want        []string // substrings of the listed problems, in order
		allow       string
	}{
		{name: "list", method: "GET", url: "/v1/orders?limit=10&status=open&status=shipped"},
		{name: "list on the staging server", method: "GET", url: "/stage/v1/orders?limit=10"},
		{name: "list with created_after", method: "GET", url: "/v1/orders?created_after=2026-12-01T10%3A00%3A00Z"},
		{name: "limit over maximum", method: "GET", url: "/v1/orders?limit=500", status: 400, want: []string{"query.limit: must be <= 100"}},
		{name: "limit not an integer", method: "GET", url: "/v1/orders?limit=ten", status: 400, want: []string{"query.limit: must be integer, not string"}},
		{name: "limit fractional", method: "GET", url: "/v1/orders?limit=1.5", status: 400, want: []string{"query.limit: must be integer, not number"}},
		{name: "status not in enum", method: "GET", url: "/v1/orders?status=lost", status: 400, want: []string{"query.status/0: must be one of"}},
		{name: "too many statuses", method: "GET", url: "/v1/orders?status=open&status=open&status=open&status=open", status: 400, want: []string{"query.status: must have at most 3 items"}},
		{name: "bad date-time", method: "GET", url: "/v1/orders?created_after=yesterday", status: 400, want: []string{"query.created_after: must be a valid date-time"}},
		{name: "bad tenant header", method: "GET", url: "/v1/orders", hdr: []string{"X-Tenant", "NO"}, status: 400, want: []string{"header.X-Tenant: must match the pattern"}},
		{name: "unknown path", method: "GET", url: "/v1/customers", status: 404},
		{name: "outside every server", method: "GET", url: "/orders", status: 404},
		{name: "wrong method", method: "DELETE", url: "/v1/orders", status: 405, allow: "GET, POST"},
		{name: "literal before template", method: "GET", url: "/v1/orders/mine"},
		{name: "path param", method: "GET", url: "/v1/orders/42"},
		{name: "path param not an integer", method: "GET", url: "/v1/orders/abc", status: 400, want: []string{"path.orderId: must be integer, not string"}},
		{name: "path param below minimum", method: "GET", url: "/v1/orders/0", status: 400, want: []string{"path.orderId: must be >= 1"}},
		{name: "two path params", method: "GET", url: "/v1/orders/7/items/ABC-1234"},
		{name: "sku pattern", method: "GET", url: "/v1/orders/7/items/abc", status: 400, want: []string{"path.sku: must match the pattern"}},
		{name: "param inside a segment", method: "GET", url: "/v1/reports/sales.csv", hdr: []string{"Accept", "text/csv"}},
		{name: "param inside a segment, bad", method: "GET", url: "/v1/reports/Sales.csv", status: 400, want: []string{"path.name: must match the pattern"}},
		{name: "accept not satisfiable", method: "GET", url: "/v1/reports/sales.csv", hdr: []string{"Accept", "application/xml"}, status: 406},
		{name: "accept wildcard", method: "GET", url: "/v1/reports/sales.csv", hdr: []string{"Accept", "text/*;q=0.5"}},
		{name: "create", method: "POST", url: "/v1/orders", body: validOrder, hdr: append(post, "Cookie", "session=abcdefgh12")},
		{name: "create, charset", method: "POST", url: "/v1/orders", body: validOrder, hdr: []string{"Content-Type", "application/json; charset=utf-8", "Idempotency-Key", key}},
		{name: "create without key", method: "POST", url: "/v1/orders", body: validOrder, hdr: []string{"Content-Type", "application/json"}, status: 400, want: []string{"header.Idempotency-Key: required header is missing"}},
		{name: "create, bad uuid", method: "POST", url: "/v1/orders", body: validOrder, hdr: []string{"Content-Type", "application/json", "Idempotency-Key", "nope"}, status: 400, want: []string{"header.Idempotency-Key: must be a valid uuid"}},
		{name: "create, short session cookie", method: "POST", url: "/v1/orders", body: validOrder, hdr: append(post, "Cookie", "session=abc"), status: 400, want: []string{"cookie.session: must be at least 8 characters long"}},
		{name: "create, no body", method: "POST", url: "/v1/orders", hdr: post, status: 400, want: []string{"/body: a request body is required"}},
		{name: "create, xml", method: "POST", url: "/v1/orders", body: "<order/>", hdr: []string{"Content-Type", "application/xml", "Idempotency-Key", key}, status: 415},
		{name: "create, not json", method: "POST", url: "/v1/orders", body: `{"customer":`, hdr: post, status: 400, want: []string{"/body: not valid JSON"}},
		{name: "create, every kind of problem", method: "POST", url: "/v1/orders", hdr: post, status: 400, body: `{
			"id": 5,
			"customer": {"name": "", "email": "not-an-email", "address": {"street": "x", "city": "y", "country": "XX", "planet": "Mars"}},
			"items": [{"sku": "ABC-1234", "qty": 101, "price": 0, "dimensions": [1, "2"]}, {"qty": 1}],
			"payment": {"method": "cash"},
			"note": 7, "deliver_by": "31.01.2027", "gift": "yes",
			"labels": {"a": "1", "b": "this label is far longer than twenty"},
			"contact_ids": [1, 1]}`,
			want: []string{
				"/body/id: is read-only",
				"/body/customer/name: must be at least 1 characters long",
				"/body/customer/email: must be a valid email",
				"/body/customer/address/country: must be one of",
				"/body/customer/address/planet: is not a property this object allows",
				"/body/items/0/qty: must be <= 100",
				"/body/items/0/price: must be > 0",
				"/body/items/0/dimensions/1: must be number, not string",
				"/body/items/0/dimensions: must have at least 3 items",
				`/body/items/1: required property "sku" is missing`,
				"/body/payment: must match exactly one of the schemas in oneOf; it matches none",
				"/body/note: must be null or string, not integer",
				"/body/deliver_by: must be a valid date",
				"/body/gift: must be boolean, not string",
				"/body/labels/b: must be at most 20 characters long",
				"/body/contact_ids: ",
			}},
		{name: "patch, merge-patch", method: "PATCH", url: "/v1/orders/3", body: `{"note": null, "status": "cancelled"}`, hdr: []string{"Content-Type", "application/merge-patch+json"}},
		{name: "patch, const", method: "PATCH", url: "/v1/orders/3", body: `{"status": "open"}`, hdr: []string{"Content-Type", "application/merge-patch+json"}, status: 400, want: []string{`/body/status: must be "cancelled"`}},
		{name: "patch, escaped key", method: "PATCH", url: "/v1/orders/3", body: `{"st\u0061tus": "cancelled", "a\/b": 1}`, hdr: []string{"Content-Type", "application/merge-patch+json"}, status: 400, want: []string{`/body/a~1b: is not a property`}},
		{name: "head follows get", method: "HEAD", url: "/v1/orders/0", status: 400, want: []string{"path.orderId"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.OnRequest(exchange(tc.method, tc.url, tc.body, tc.hdr...))
			if tc.status == 0 {
				if resp != nil {
					t.Fatalf("refused %d %s, want it let through", resp.Status, resp.Body)
				}
				return
			}
			if resp == nil {
				t.Fatalf("let through, want %d", tc.status)
			}
			if resp.Status != tc.status {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, tc.status)
			}
			if tc.allow != "" && resp.Header.Get("Allow") != tc.allow {
				t.Errorf("Allow %q, want %q", resp.Header.Get("Allow"), tc.allow)
			}
			if tc.want == nil {
				return
			}
			got := locations(t, resp)
			if len(got) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if i >= len(got) || !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d: want prefix %q; got:\n%s", i, w, strings.Join(got, "\n"))
					break
				}
			}
		})
	}
}

// TestMaxProblems caps the listed problems and counts the rest.
func TestMaxProblems(t *testing.T) {
	f := build(t, &Config{Spec: "testdata/warehouse.yaml", MaxProblems: 2})
	items := strings.Repeat(`{"sku":"bad","qty":0},`, 20)
	body := `{"customer":{"name":"a","email":"a@b.c","address":{"street":"s","city":"c","country":"DE"}},"payment":{"method":"invoice","po":"1"},"items":[` + strings.TrimSuffix(items, ",") + `]}`
	resp := f.OnRequest(exchange("POST", "/v1/orders", body, "Content-Type", "application/json", "Idempotency-Key", key))
	if resp == nil || resp.Status != 400 {
		t.Fatalf("want 400, got %+v", resp)
	}
	var out problemsOut
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Problems) != 2 || out.Omitted != 38 {
		t.Errorf("%d problems listed, %d omitted; want 2 and 38: %s", len(out.Problems), out.Omitted, resp.Body)
	}
}

// TestOperationsAndParts: excluded operations and parts switched off
// pass unchecked; base_path replaces the servers.
func TestOperationsAndParts(t *testing.T) {
	no := false
	f := build(t, &Config{Spec: "testdata/warehouse.yaml", BasePath: "/api", Operations: Operations{Exclude: []string{"getOrder"}}, Parts: Parts{Query: &no}})
	for _, tc := range []struct {
		url    string
		status int
	}{
		{"/api/orders/0", 0},         // getOrder excluded
		{"/api/orders?limit=900", 0}, // query not validated
		{"/v1/orders", 404},          // servers replaced by base_path
		{"/api/orders/1/items/x", 400},
	} {
		resp := f.OnRequest(exchange("GET", tc.url, ""))
		got := 0
		if resp != nil {
			got = resp.Status
		}
		if got != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.url, got, tc.status)
		}
	}
	if _, err := (&Config{Spec: "testdata/warehouse.yaml", Operations: Operations{Include: []string{"nope"}}}).Build(&filter.BuildContext{}); err == nil || !strings.Contains(err.Error(), `no operation "nope"`) {
		t.Errorf("include of an unknown operation: %v", err)
	}
}

// TestReportMode lets invalid requests through, counting them.
func TestReportMode(t *testing.T) {
	m := newMeter()
	var logs bytes.Buffer
	c := &Config{Spec: "testdata/warehouse.yaml", Mode: "report"}
	fl, err := c.Build(&filter.BuildContext{Route: "api", Meter: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f := fl.(*Filter)
	for _, u := range []string{"/v1/orders?limit=0", "/v1/nothing", "/v1/orders?limit=5"} {
		if resp := f.OnRequest(exchange("GET", u, "")); resp != nil {
			t.Errorf("GET %s refused %d in report mode", u, resp.Status)
		}
	}
	if resp := f.OnRequest(exchange("PUT", "/v1/orders", "")); resp != nil {
		t.Errorf("405 in report mode: %d", resp.Status)
	}
	if !strings.Contains(logs.String(), `problems="query.limit: must be >= 1"`) || !strings.Contains(logs.String(), "report mode") {
		t.Errorf("report mode did not log the problem: %s", logs.String())
	}
	for k, want := range map[string]uint64{
		"api/listOrders/invalid": 1, "api/listOrders/valid": 1, "api//not_found": 1, "api//method_not_allowed": 1,
	} {
		if got := m.get(k); got != want {
			t.Errorf("%s = %d, want %d (all: %v)", k, got, want, m.all())
		}
	}
}

// TestResponses validates responses in report mode: counted, never refused.
func TestResponses(t *testing.T) {
	m := newMeter()
	c := &Config{Spec: "testdata/warehouse.yaml", Mode: "report", Responses: true}
	fl, err := c.Build(&filter.BuildContext{Route: "api", Meter: m})
	if err != nil {
		t.Fatal(err)
	}
	f := fl.(*Filter)
	if !f.Needs().ResponseBody {
		t.Fatal("responses: true must ask for the response body")
	}
	send := func(status int, body string, hdr ...string) {
		x := exchange("GET", "/v1/orders/5", "")
		if resp := f.OnRequest(x); resp != nil {
			t.Fatalf("refused: %d", resp.Status)
		}
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(hdr); i += 2 {
			h.Add(hdr[i], hdr[i+1])
		}
		x.Response = &filter.Response{Status: status, Header: h, Body: []byte(body)}
		if resp := f.OnResponse(x); resp != nil {
			t.Fatalf("a response was replaced: %d", resp.Status)
		}
	}
	send(200, `{"id":5,"customer":{"name":"a","email":"a@b.c","address":{"street":"s","city":"c","country":"DE"}},"items":[{"sku":"ABC-1234","qty":1}],"payment":{"method":"invoice","po":"7"}}`)
	send(200, `{"id":"five"}`)
	send(500, `{}`)
	// A compressed body is not JSON to check: only its status is.
	send(200, "\x1f\x8b\x08\x00compressed", "Content-Encoding", "gzip")
	if v, i := m.get("api/getOrder/response_valid"), m.get("api/getOrder/response_invalid"); v != 2 || i != 2 {
		t.Errorf("response_valid %d, response_invalid %d; want 2 and 2", v, i)
	}
}

// TestOpenAPI30 reads a 3.0 document: nullable and boolean
// exclusiveMaximum mean what 3.0 says.
func TestOpenAPI30(t *testing.T) {
	f := build(t, &Config{Spec: "testdata/v30.yaml"})
	ok := func(body string) bool {
		return f.OnRequest(exchange("POST", "/things", body, "Content-Type", "application/json")) == nil
	}
	for body, want := range map[string]bool{
		`{"name": null, "ratio": 0.5}`: true,
		`{"name": "x", "ratio": 1}`:    false, // exclusiveMaximum: true with maximum: 1
		`{"ratio": 0.99}`:              true,
		`{"name": 3}`:                  false,
		`{"tag": null}`:                false, // not nullable
	} {
		if got := ok(body); got != want {
			t.Errorf("%s: valid %v, want %v", body, got, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{}, "give the document"},
		{Config{Spec: "a", SpecURL: "http://x"}, "not both"},
		{Config{SpecURL: "ftp://x"}, "not an http(s) URL"},
		{Config{Spec: "a", Mode: "strict"}, "not a mode"},
		{Config{Spec: "a", Responses: true}, "report mode only"},
		{Config{Spec: "a", BasePath: "api"}, "must start with /"},
		{Config{Spec: "a", Operations: Operations{Include: []string{"x"}, Exclude: []string{"x"}}}, "also in include"},
	} {
		err := tc.c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	_, err := (&Config{Spec: "testdata/bad-ref.yaml"}).Build(&filter.BuildContext{})
	if err == nil || !strings.Contains(err.Error(), "points to nothing") {
		t.Errorf("a dangling $ref: %v", err)
	}
}

// meter is an in-memory filter.Meter keyed "route/operation/result".
type meter struct{ m map[string]*filter.Counter }

func newMeter() *meter { return &meter{m: map[string]*filter.Counter{}} }

func (m *meter) Counter(_ filter.Metric, labels ...filter.Label) *filter.Counter {
	var parts []string
	for _, l := range labels {
		parts = append(parts, l.Value)
	}
	k := strings.Join(parts, "/")
	if m.m[k] == nil {
		m.m[k] = new(filter.Counter)
	}
	return m.m[k]
}

func (m *meter) Histogram(filter.Metric, ...filter.Label) filter.Histogram { return nil }

func (m *meter) get(k string) uint64 {
	if c := m.m[k]; c != nil {
		return c.Load()
	}
	return 0
}

func (m *meter) all() []string {
	var out []string
	for k, c := range m.m {
		if c.Load() > 0 {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestLimits: a body nested too deeply, or one whose schema's branches
// would make it cost exponential time, is refused quickly instead.
func TestLimits(t *testing.T) {
	f := build(t, &Config{Spec: "testdata/nested.yaml"})
	for _, tc := range []struct {
		body, want string
	}{
		{strings.Repeat("[", 600) + strings.Repeat("]", 600), "nested deeper than 512 levels"},
		{strings.Repeat("[", 60) + strings.Repeat("]", 60), "too complex to validate"},
	} {
		start := time.Now()
		resp := f.OnRequest(exchange("POST", "/tree", tc.body, "Content-Type", "application/json"))
		if resp == nil || resp.Status != 400 || !strings.Contains(string(resp.Body), tc.want) {
			t.Errorf("%.20s...: %+v, want 400 saying %q", tc.body, resp, tc.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%.20s...: took %v", tc.body, d)
		}
	}
}

// TestSpecURLAtLoad: a document that cannot be fetched or compiled at
// load fails the build with the field; a dry run (validate) fetches once
// and leaves no refresh running.
func TestSpecURLAtLoad(t *testing.T) {
	doc, err := os.ReadFile("testdata/warehouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			io.WriteString(w, "openapi: 3.1.0\ninfo: {title: x}\npaths: {/a: {get: {parameters: [{$ref: '#/nope'}]}}}")
			return
		}
		w.Write(doc)
	}))
	defer srv.Close()
	f, err := (&Config{SpecURL: srv.URL + "/doc"}).Build(&filter.BuildContext{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	rs := f.(*Filter).remote
	select {
	case <-rs.done:
	default:
		t.Error("a dry run left the refresh loop running")
	}
	if got := f.(*Filter).PublishedAPI().Name; got != "Warehouse" {
		t.Errorf("name %q, want the document's title", got)
	}
	_, err = (&Config{SpecURL: srv.URL + "/broken"}).Build(&filter.BuildContext{DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "spec_url") || !strings.Contains(err.Error(), "points to nothing") {
		t.Errorf("a broken document: %v", err)
	}
}
