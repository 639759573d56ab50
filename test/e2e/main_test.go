// Package e2e tests the real wasmgate binary from the outside: it is built
// once, started per test with a config in a temp dir, and spoken to over
// loopback TCP, with httptest servers as upstreams.
package e2e

import (
	"testing"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

func TestMain(m *testing.M) { gatewaytest.Main(m) }

// needBinary skips the test under -short and runs it in parallel.
func needBinary(t *testing.T) {
	t.Helper()
	gatewaytest.Binary(t)
	t.Parallel()
}
