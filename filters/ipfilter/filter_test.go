package ipfilter

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

func TestIPFilter(t *testing.T) {
	both := testutil.MustBuild(t, Name, `{allow: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"], deny: ["10.6.6.0/24"]}`, "")
	denyOnly := testutil.MustBuild(t, Name, `{deny: ["203.0.113.0/24"]}`, "")
	cases := []struct {
		f    filter.Filter
		ip   string
		pass bool
	}{
		{both, "10.1.2.3", true},
		{both, "10.6.6.6", false}, // deny wins
		{both, "192.0.2.7", true},
		{both, "192.0.2.8", false},
		{both, "2001:db8::1", true},
		{both, "::ffff:10.1.2.3", true}, // v4-mapped counts as v4
		{both, "2001:db9::1", false},
		{both, "", false}, // no address
		{denyOnly, "203.0.113.9", false},
		{denyOnly, "198.51.100.1", true},
	}
	for _, c := range cases {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		resp := c.f.OnRequest(&filter.Exchange{Request: httptest.NewRequest("GET", "/", nil), ClientIP: ip})
		if (resp == nil) != c.pass {
			t.Errorf("%s: passed=%v, want %v", c.ip, resp == nil, c.pass)
		}
		if resp != nil && (resp.Status != 403 || !strings.Contains(string(resp.Body), `"status":403`)) {
			t.Errorf("%s: %d %s, want a 403 JSON", c.ip, resp.Status, resp.Body)
		}
	}
}

func TestIPFilterConfigErrors(t *testing.T) {
	for block, want := range map[string]string{
		`{}`:                       "give allow, deny or both",
		`{allow: ["10.0.0.0/33"]}`: "expected an IP prefix",
		`{allow: [nope]}`:          "expected an IP prefix",
	} {
		if _, err := testutil.Build(t, Name, block, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", block, err, want)
		}
	}
}
