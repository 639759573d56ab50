package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

func TestMTLS(t *testing.T) {
	consumers := `
- {name: billing, mtls: [{subject: "CN=billing,O=Example"}]}
- {name: reports, mtls: [{san: "reports.internal"}, {san: "spiffe://example.org/reports"}]}
- {name: other, mtls: [{san: "other.internal"}]}
`
	f := testutil.MustBuild(t, "mtls", `{consumers: [billing, reports]}`, consumers)
	spiffe, _ := url.Parse("spiffe://example.org/reports")
	cases := []struct {
		name     string
		cert     *x509.Certificate // nil: no verified chain
		status   int
		consumer string
	}{
		{"subject", &x509.Certificate{Subject: pkix.Name{CommonName: "billing", Organization: []string{"Example"}}}, 0, "billing"},
		{"dns san", &x509.Certificate{Subject: pkix.Name{CommonName: "x"}, DNSNames: []string{"a", "reports.internal"}}, 0, "reports"},
		{"uri san", &x509.Certificate{URIs: []*url.URL{spiffe}}, 0, "reports"},
		{"unknown", &x509.Certificate{Subject: pkix.Name{CommonName: "stranger"}}, 403, ""},
		{"not allowed here", &x509.Certificate{DNSNames: []string{"other.internal"}}, 403, ""},
		{"no certificate", nil, 401, ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "https://gw/", nil)
		r.TLS = &tls.ConnectionState{}
		if c.cert != nil {
			r.TLS.VerifiedChains = [][]*x509.Certificate{{c.cert}}
			// An unverified peer certificate alone must never count.
		} else {
			r.TLS.PeerCertificates = []*x509.Certificate{{Subject: pkix.Name{CommonName: "billing", Organization: []string{"Example"}}}}
		}
		r.Header.Set("X-Consumer-Name", "spoofed")
		x := &filter.Exchange{Request: r}
		resp := f.OnRequest(x)
		switch {
		case c.status != 0 && (resp == nil || resp.Status != c.status):
			t.Errorf("%s: %v, want %d", c.name, resp, c.status)
		case c.status == 0 && resp != nil:
			t.Errorf("%s: refused %d %s", c.name, resp.Status, resp.Body)
		case c.status == 0 && (x.Consumer.Name != c.consumer || r.Header.Get("X-Consumer-Name") != c.consumer):
			t.Errorf("%s: consumer %q, want %q", c.name, x.Consumer.Name, c.consumer)
		}
	}
	// Plain HTTP: no TLS at all.
	if resp := f.OnRequest(&filter.Exchange{Request: httptest.NewRequest("GET", "/", nil)}); resp == nil || resp.Status != 401 {
		t.Errorf("plain HTTP: %v, want 401", resp)
	}
}

// With anonymous set, a request without a verified certificate goes as that
// consumer; a verified one that maps to no consumer is still refused.
func TestAnonymous(t *testing.T) {
	f := testutil.MustBuild(t, "mtls", `{anonymous: guest}`, `
- {name: guest, metadata: {tier: free}}
- {name: billing, mtls: [{subject: "CN=billing"}]}
`)
	r := httptest.NewRequest("GET", "https://gw/", nil)
	r.TLS = &tls.ConnectionState{}
	x := &filter.Exchange{Request: r}
	if resp := f.OnRequest(x); resp != nil || x.Consumer == nil || x.Consumer.Name != "guest" || x.Consumer.Metadata["tier"] != "free" || r.Header.Get("X-Consumer-Anonymous") != "true" {
		t.Errorf("no certificate: response %v, consumer %v, want guest (tier free), marked anonymous", resp, x.Consumer)
	}
	r = httptest.NewRequest("GET", "https://gw/", nil)
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: "stranger"}}}}}
	if resp := f.OnRequest(&filter.Exchange{Request: r}); resp == nil || resp.Status != 403 {
		t.Errorf("unknown certificate: %v, want 403", resp)
	}
}
