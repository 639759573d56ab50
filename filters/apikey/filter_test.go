package apikey

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

const (
	mobileKey  = "mobile-key-0123456789abcdef"
	partnerKey = "partner-key-0123456789abcdef"
)

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func consumers(t *testing.T) string {
	t.Setenv("PARTNER_KEY", partnerKey)
	return `
- {name: mobile, metadata: {tier: gold}, api_keys: [{sha256: "` + sum(mobileKey) + `"}]}
- {name: partner, api_keys: [{key: "${PARTNER_KEY}"}]}
`
}

func TestAPIKey(t *testing.T) {
	f := testutil.MustBuild(t, "apikey", `{query: api_key}`, consumers(t))
	only := testutil.MustBuild(t, "apikey", `{consumers: [mobile]}`, consumers(t))
	cases := []struct {
		name     string
		f        filter.Filter
		target   string
		hdr      []string
		status   int
		consumer string
		query    string
	}{
		{"sha256 key in header", f, "/", []string{"X-API-Key", mobileKey}, 0, "mobile", ""},
		{"key from env", f, "/", []string{"X-Api-Key", partnerKey}, 0, "partner", ""},
		{"key in query, removed", f, "/?a=1&api_key=" + mobileKey + "&b=2", nil, 0, "mobile", "a=1&b=2"},
		{"missing", f, "/", nil, 401, "", ""},
		{"wrong key", f, "/", []string{"X-API-Key", mobileKey + "x"}, 401, "", ""},
		{"prefix of a key", f, "/", []string{"X-API-Key", mobileKey[:10]}, 401, "", ""},
		{"empty", f, "/", []string{"X-API-Key", ""}, 401, "", ""},
		{"header and query", f, "/?api_key=" + mobileKey, []string{"X-API-Key", mobileKey}, 400, "", ""},
		{"two headers", f, "/", []string{"X-API-Key", mobileKey, "X-API-Key", mobileKey}, 400, "", ""},
		{"huge", f, "/", []string{"X-API-Key", strings.Repeat("k", 5000)}, 401, "", ""},
		{"allowed consumer", only, "/", []string{"X-API-Key", mobileKey}, 0, "mobile", ""},
		{"consumer not allowed", only, "/", []string{"X-API-Key", partnerKey}, 403, "", ""},
		{"query not read unless configured", only, "/?api_key=" + mobileKey, nil, 401, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", c.target, nil)
			for i := 0; i+1 < len(c.hdr); i += 2 {
				r.Header.Add(c.hdr[i], c.hdr[i+1])
			}
			r.Header.Set("X-Consumer-Name", "spoofed")
			r.Header.Set("X-Consumer-Tier", "platinum")
			x := &filter.Exchange{Request: r}
			resp := c.f.OnRequest(x)
			if c.status != 0 {
				if resp == nil || resp.Status != c.status {
					t.Fatalf("got %v, want status %d", resp, c.status)
				}
				if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `ApiKey realm="wasmgate"`) {
					t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
				}
				return
			}
			if resp != nil {
				t.Fatalf("refused: %d %s", resp.Status, resp.Body)
			}
			if x.Consumer.Name != c.consumer || r.Header.Get("X-Consumer-Name") != c.consumer {
				t.Errorf("consumer %q, header %q; want %q", x.Consumer.Name, r.Header.Get("X-Consumer-Name"), c.consumer)
			}
			if r.Header.Get("X-Consumer-Tier") != "" {
				t.Error("a client-sent X-Consumer-* header survived")
			}
			if r.Header.Get("X-Api-Key") != "" {
				t.Error("the key is forwarded upstream")
			}
			if c.query != "" && r.URL.RawQuery != c.query {
				t.Errorf("query %q, want %q", r.URL.RawQuery, c.query)
			}
		})
	}
}

func TestAPIKeyConfigErrors(t *testing.T) {
	for _, c := range []struct{ consumers, want string }{
		{`[{name: a, api_keys: [{sha256: "abc"}]}]`, "64 hex digits"},
		{`[{name: a, api_keys: [{key: "short"}]}]`, "at least 16"},
		{`[{name: a, api_keys: [{}]}]`, "exactly one of sha256"},
		{`[{name: a, api_keys: [{key: "0123456789abcdefg"}]}, {name: b, api_keys: [{sha256: "` + sum("0123456789abcdefg") + `"}]}]`, `already a key of consumer "a"`},
		{`[{name: a}, {name: a}]`, "names must be unique"},
	} {
		_, err := testutil.Build(t, "apikey", `{}`, c.consumers)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.consumers, err, c.want)
		}
	}
	if _, err := testutil.Build(t, "apikey", `{consumers: [ghost]}`, `[{name: a}]`); err == nil {
		t.Error("an unknown consumer in consumers: was accepted")
	}
}

func TestAPIKeyFailuresCounted(t *testing.T) {
	f := testutil.MustBuild(t, "apikey", `{}`, consumers(t))
	before := testutil.Meters.AuthFailures("apikey", "invalid")
	f.OnRequest(&filter.Exchange{Request: httptest.NewRequest("GET", "/", nil)})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", "nope-nope-nope-nope")
	f.OnRequest(&filter.Exchange{Request: r})
	if got := testutil.Meters.AuthFailures("apikey", "invalid"); got != before+1 {
		t.Errorf("invalid count %d, want %d", got, before+1)
	}
}

func TestAPIKeyHotPathDoesNotAllocate(t *testing.T) {
	f := testutil.MustBuild(t, "apikey", `{keep_credential: true}`, consumers(t))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", mobileKey)
	x := &filter.Exchange{Request: r}
	if n := testing.AllocsPerRun(1000, func() {
		x.Consumer = nil
		if f.OnRequest(x) != nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("%v allocations per check, want 0", n)
	}
}

func BenchmarkAPIKey(b *testing.B) {
	b.Setenv("PARTNER_KEY", partnerKey)
	f := testutil.MustBuild(b, "apikey", `{keep_credential: true}`, `[{name: mobile, api_keys: [{sha256: "`+sum(mobileKey)+`"}]}]`)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", mobileKey)
	r.Header.Set("Accept", "*/*")
	r.Header.Set("User-Agent", "bench")
	x := &filter.Exchange{Request: r}
	b.ReportAllocs()
	for b.Loop() {
		x.Consumer = nil
		if f.OnRequest(x) != nil {
			b.Fatal("refused")
		}
	}
}
