package e2e

import (
	"crypto/x509"
	"testing"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// Certificates come from the shared harness (test/hardening uses them too).
type testCert = gatewaytest.Cert

func newCert(t *testing.T, dir, name string, parent *testCert, ca, client bool) *testCert {
	return gatewaytest.NewCert(t, dir, name, parent, ca, client)
}

func certPool(certs ...*testCert) *x509.CertPool { return gatewaytest.CertPool(certs...) }
