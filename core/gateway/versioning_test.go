package gateway

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// startVersioned runs a gateway whose routes answer with their own name,
// under the versioning block given.
func startVersioned(t *testing.T, versioning string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
versioning: ` + versioning + `
routes:
  - { name: users-v1, version: v1, match: { prefix: /users }, respond: { body: "v1 {request.path}" } }
  - { name: users-v2, version: "2", match: { prefix: /users }, respond: { body: "v2 {request.path}" } }
  - { name: other, match: { prefix: / }, respond: { body: "unversioned {request.path}" } }
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base := startGateway(t, file)
	return base
}

func TestVersionRouting(t *testing.T) {
	for _, tc := range []struct {
		versioning string
		requests   [][3]string // target, header "Name: value" or "", want body
	}{
		{`{ by: header, default: v1 }`, [][3]string{
			{"/users/7", "", "v1 /users/7"},
			{"/users/7", "API-Version: 2", "v2 /users/7"},
			{"/users/7", "Accept-Version: V2", "v2 /users/7"},
			{"/users/7", "API-Version: v3", "unversioned /users/7"},
		}},
		{`{ by: header, headers: [X-Api] }`, [][3]string{
			{"/users/7", "", "unversioned /users/7"}, // no default: only unversioned routes
			{"/users/7", "X-Api: v1", "v1 /users/7"},
			{"/users/7", "API-Version: v2", "unversioned /users/7"},
		}},
		{`{ by: query, default: v1 }`, [][3]string{
			{"/users/7?version=2", "", "v2 /users/7"},
			{"/users/7?a=1&version=v1", "", "v1 /users/7"},
			{"/users/7", "", "v1 /users/7"},
		}},
		{`{ by: path, default: v1 }`, [][3]string{
			{"/v2/users/7", "", "v2 /users/7"},
			{"/v1/users", "", "v1 /users"},
			{"/users/7", "", "v1 /users/7"},
			{"/v9/users/7", "", "unversioned /v9/users/7"}, // not a version any route serves
			{"/v2", "", "unversioned /"},
		}},
		{`{ by: media_type, media_type: "application/vnd.acme.{version}+json", default: v1 }`, [][3]string{
			{"/users/7", "Accept: text/html, application/vnd.acme.v2+json;q=0.9", "v2 /users/7"},
			{"/users/7", "Accept: application/json", "v1 /users/7"},
			{"/users/7", "Accept: application/VND.ACME.V1+JSON", "v1 /users/7"},
		}},
	} {
		t.Run(tc.versioning, func(t *testing.T) {
			base := startVersioned(t, tc.versioning)
			for _, q := range tc.requests {
				var hdr []string
				if name, val, ok := strings.Cut(q[1], ": "); ok {
					hdr = []string{name, val}
				}
				if resp, body := get(t, base+q[0], hdr...); resp == nil || body != q[2] {
					t.Errorf("GET %s (%s): %q, want %q", q[0], q[1], body, q[2])
				}
			}
		})
	}
}

func TestDeprecationHeadersAndSunset(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - name: old
    match: { prefix: /old }
    deprecation: { at: 2020-01-01, sunset: "2999-06-30", link: "https://example.com/migrate" }
    respond: { headers: { Link: "</next>; rel=next" }, body: ok }
  - name: gone
    match: { prefix: /gone }
    deprecation: { at: 2020-01-01, sunset: "2021-01-01T12:00:00Z" }
    respond: { body: "must not be served" }
  - name: fresh
    match: { prefix: / }
    respond: { body: fresh }
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base := startGateway(t, file)

	resp, body := get(t, base+"/old/x")
	if body != "ok" || resp.StatusCode != 200 {
		t.Fatalf("deprecated route: %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Deprecation"); got != fmt.Sprintf("@%d", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("Deprecation %q, want the date as @seconds (RFC 9745)", got)
	}
	if got := resp.Header.Get("Sunset"); got != "Sun, 30 Jun 2999 00:00:00 GMT" {
		t.Errorf("Sunset %q, want an HTTP-date (RFC 8594)", got)
	}
	if links := resp.Header.Values("Link"); len(links) != 2 || links[0] != "</next>; rel=next" ||
		links[1] != `<https://example.com/migrate>; rel="deprecation"; type="text/html"` {
		t.Errorf("Link %q: want the route's own link kept and the deprecation link added", links)
	}

	resp, body = get(t, base+"/gone")
	if resp.StatusCode != http.StatusGone || !strings.Contains(body, `"this API was retired on 2021-01-01"`) ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Sunset") != "Fri, 01 Jan 2021 12:00:00 GMT" {
		t.Errorf("after the sunset: %d %q %v; want 410 with a JSON reason and the Sunset header", resp.StatusCode, body, resp.Header)
	}
	resp, _ = get(t, base+"/fresh")
	if resp.Header.Get("Deprecation") != "" || resp.Header.Get("Sunset") != "" {
		t.Errorf("a route without deprecation got %v", resp.Header)
	}
}

// The consumer counts by route, consumer and sunset state, through the meter.
func TestDeprecationCountsConsumers(t *testing.T) {
	m := &countingMeter{counters: map[string]*filter.Counter{}}
	d := newDeprecation("old", &config.Deprecation{At: "2020-01-01", Sunset: "2030-01-01"}, m)
	now := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	alice := &filter.Consumer{Name: "alice"}
	for _, c := range []*filter.Consumer{alice, alice, nil} {
		x := &filter.Exchange{Consumer: c, Response: &filter.Response{Status: 200, Header: http.Header{}}}
		if d.retired(x) != nil {
			t.Fatal("retired before the sunset")
		}
		d.served(x)
	}
	now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if resp := d.retired(&filter.Exchange{Consumer: alice}); resp == nil || resp.Status != http.StatusGone {
		t.Fatalf("at the sunset: %+v, want 410", resp)
	}
	want := map[string]uint64{"old/alice/false": 2, "old//false": 1, "old/alice/true": 1}
	for k, n := range want {
		if c := m.counters[k]; c == nil || c.Load() != n {
			t.Errorf("%s: %v, want %d", k, c, n)
		}
	}
}

type countingMeter struct{ counters map[string]*filter.Counter }

func (m *countingMeter) Counter(_ filter.Metric, labels ...filter.Label) *filter.Counter {
	k := labels[0].Value + "/" + labels[1].Value + "/" + labels[2].Value
	if m.counters[k] == nil {
		m.counters[k] = new(filter.Counter)
	}
	return m.counters[k]
}

func (m *countingMeter) Histogram(filter.Metric, ...filter.Label) filter.Histogram { return nil }
