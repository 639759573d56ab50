package basicauth

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

func hash(t testing.TB, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func TestBasicAuth(t *testing.T) {
	t.Setenv("OPS_HASH", hash(t, "s3cret:with:colons"))
	consumers := `
- {name: alice, basic_auth: [{username: alice, bcrypt: "` + hash(t, "wonderland") + `"}]}
- {name: ops, basic_auth: [{username: ops, bcrypt: "${OPS_HASH}"}]}
`
	f := testutil.MustBuild(t, "basicauth", `{realm: "staff"}`, consumers)
	only := testutil.MustBuild(t, "basicauth", `{consumers: [alice]}`, consumers)
	cases := []struct {
		name     string
		f        filter.Filter
		auth     []string
		status   int
		consumer string
	}{
		{"valid", f, []string{basic("alice", "wonderland")}, 0, "alice"},
		{"password with colons, hash from env", f, []string{basic("ops", "s3cret:with:colons")}, 0, "ops"},
		{"lowercase scheme", f, []string{"basic " + base64.StdEncoding.EncodeToString([]byte("alice:wonderland"))}, 0, "alice"},
		{"wrong password", f, []string{basic("alice", "wonderlant")}, 401, ""},
		{"unknown user", f, []string{basic("mallory", "wonderland")}, 401, ""},
		{"empty password", f, []string{basic("alice", "")}, 401, ""},
		{"missing", f, nil, 401, ""},
		{"bearer", f, []string{"Bearer abc"}, 401, ""},
		{"bad base64", f, []string{"Basic !!!"}, 401, ""},
		{"no colon", f, []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}, 401, ""},
		{"huge", f, []string{"Basic " + strings.Repeat("QUFB", 1000)}, 401, ""},
		{"two headers", f, []string{basic("alice", "wonderland"), basic("alice", "wonderland")}, 400, ""},
		{"not allowed here", only, []string{basic("ops", "s3cret:with:colons")}, 403, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for round := range 2 { // the second round may come from the cache
				r := httptest.NewRequest("GET", "/", nil)
				for _, a := range c.auth {
					r.Header.Add("Authorization", a)
				}
				r.Header.Set("X-Consumer-Name", "spoofed")
				x := &filter.Exchange{Request: r}
				resp := c.f.OnRequest(x)
				if c.status != 0 {
					if resp == nil || resp.Status != c.status {
						t.Fatalf("round %d: got %v, want %d", round, resp, c.status)
					}
					if c.status == 401 && c.f == f && resp.Header.Get("WWW-Authenticate") != `Basic realm="staff", charset="UTF-8"` {
						t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
					}
					continue
				}
				if resp != nil {
					t.Fatalf("round %d: refused %d %s", round, resp.Status, resp.Body)
				}
				if x.Consumer.Name != c.consumer || r.Header.Get("X-Consumer-Name") != c.consumer || r.Header.Get("Authorization") != "" {
					t.Errorf("round %d: consumer %q header %q auth %q", round, x.Consumer.Name, r.Header.Get("X-Consumer-Name"), r.Header.Get("Authorization"))
				}
			}
		})
	}
}

// A successful check is cached, so the next costs a hash, not bcrypt; a
// wrong password never hits the cache.
func TestBasicAuthCache(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), 10) // tens of ms per check
	f := testutil.MustBuild(t, "basicauth", `{}`, `[{name: a, basic_auth: [{username: a, bcrypt: "`+string(h)+`"}]}]`).(*Filter)
	var bcrypts int
	compareHash = func(hash, pw []byte) error { bcrypts++; return bcrypt.CompareHashAndPassword(hash, pw) }
	t.Cleanup(func() { compareHash = bcrypt.CompareHashAndPassword })
	check := func(pw string) (*filter.Response, int) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", basic("a", pw))
		before := bcrypts
		resp := f.OnRequest(&filter.Exchange{Request: r})
		return resp, bcrypts - before
	}
	if resp, n := check("pw"); resp != nil || n != 1 {
		t.Fatalf("first check: resp %v after %d bcrypt checks, want accepted after 1", resp, n)
	}
	if resp, n := check("pw"); resp != nil || n != 0 {
		t.Errorf("second check: resp %v after %d bcrypt checks, want a cache hit (0)", resp, n)
	}
	if resp, n := check("pW"); resp == nil || n != 1 {
		t.Errorf("a wrong password after a right one was cached: resp %v after %d bcrypt checks, want refused after 1", resp, n)
	}
	if len(f.cache.m) != 1 {
		t.Errorf("cache holds %d entries, want 1", len(f.cache.m))
	}
}

func TestBasicAuthConfigErrors(t *testing.T) {
	for _, c := range []struct{ consumers, want string }{
		{`[{name: a, basic_auth: [{username: a, bcrypt: "plain"}]}]`, "bcrypt hash"},
		{`[{name: a, basic_auth: [{username: "a:b", bcrypt: "x"}]}]`, "cannot contain ':'"},
	} {
		if _, err := testutil.Build(t, "basicauth", `{}`, c.consumers); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.consumers, err, c.want)
		}
	}
}

// With anonymous set, a request without credentials goes as that consumer;
// a wrong password is still refused.
func TestAnonymous(t *testing.T) {
	consumers := `
- {name: guest}
- {name: alice, basic_auth: [{username: alice, bcrypt: "` + hash(t, "wonderland") + `"}]}
`
	f := testutil.MustBuild(t, "basicauth", `{anonymous: guest}`, consumers)
	for _, c := range []struct {
		auth, consumer, anonymous string
		status                    int
	}{
		{"", "guest", "true", 0},
		{basic("alice", "wonderland"), "alice", "", 0},
		{basic("alice", "wonderlant"), "", "", 401},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		r.Header.Set("X-Consumer-Name", "spoofed")
		x := &filter.Exchange{Request: r}
		resp := f.OnRequest(x)
		if c.status != 0 {
			if resp == nil || resp.Status != c.status {
				t.Errorf("%q: %v, want %d", c.auth, resp, c.status)
			}
			continue
		}
		if resp != nil || x.Consumer == nil || x.Consumer.Name != c.consumer ||
			r.Header.Get("X-Consumer-Name") != c.consumer || r.Header.Get("X-Consumer-Anonymous") != c.anonymous {
			t.Errorf("%q: response %v, consumer %v, headers %v; want %s (anonymous %q)", c.auth, resp, x.Consumer, r.Header, c.consumer, c.anonymous)
		}
	}
}
