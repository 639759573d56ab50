package identity

import (
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

func authConfig(t *testing.T) *filter.BuildContext {
	t.Helper()
	cfg, err := config.Parse("", []byte(`
listeners: [{address: "127.0.0.1:0"}]
consumers:
  - {name: guest, metadata: {tier: free}}
  - {name: mobile}
`))
	if err != nil {
		t.Fatal(err)
	}
	return &filter.BuildContext{Route: "r", Config: cfg, Meter: testutil.Meters}
}

// The prelude every auth filter builds: defaults, the declared consumers,
// and its failure counters labelled with its route and name.
func TestNewAuth(t *testing.T) {
	bc := authConfig(t)
	a, err := NewAuth(bc, AuthConfig{Filter: "testauth", Consumers: []string{"guest", "mobile"}, Anonymous: "guest"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Realm != "wasmgate" {
		t.Errorf("realm %q, want the default wasmgate", a.Realm)
	}
	if !a.Allowed["guest"] || !a.Allowed["mobile"] || len(a.Allowed) != 2 {
		t.Errorf("allowed %v", a.Allowed)
	}
	if a.Anonymous == nil || a.Anonymous.Name != "guest" || a.Anonymous.Metadata["tier"] != "free" || !a.Anonymous.Registered {
		t.Errorf("anonymous %+v", a.Anonymous)
	}
	if len(a.Consumers) != 2 || a.Consumers["mobile"] == nil || a.Consumers["mobile"].Name != "mobile" {
		t.Errorf("consumers %v", a.Consumers)
	}
	a.Failure("missing").Add(2)
	if n := testutil.Meters.AuthFailures("testauth", "missing"); n != 2 {
		t.Errorf("%d failures counted for testauth/missing, want 2", n)
	}

	a, err = NewAuth(bc, AuthConfig{Filter: "testauth", Realm: "api"})
	if err != nil || a.Realm != "api" || a.Allowed != nil || a.Anonymous != nil {
		t.Errorf("no consumers, no anonymous: %+v %v", a, err)
	}
}

// Every auth filter reports a wrong consumers: or anonymous: alike.
func TestNewAuthErrors(t *testing.T) {
	bc := authConfig(t)
	for _, c := range []struct {
		ac   AuthConfig
		want string
	}{
		{AuthConfig{Consumers: []string{"mobile", "gust"}}, `consumers[1]: no consumer is named "gust"; defined: guest, mobile; did you mean "guest"?`},
		{AuthConfig{Anonymous: "gust"}, `anonymous: unknown consumer "gust"; the anonymous consumer must be declared under consumers: (with no credentials, and the metadata its rate limits use); did you mean "guest"?`},
		{AuthConfig{Consumers: []string{"mobile"}, Anonymous: "guest"}, `anonymous: consumer "guest" is not among this filter's consumers; add it there or choose another`},
	} {
		_, err := NewAuth(bc, c.ac)
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v:\n got %v\nwant %s", c.ac, err, c.want)
		}
	}
}
