package hardening

import (
	"context"
	"os/exec"
	"testing"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// The real binary, for what only a process shows: signals, and tools that
// speak to a port (h2spec, slowhttptest). The harness is test/e2e's.
type process = gatewaytest.Gateway

func TestMain(m *testing.M) { gatewaytest.Main(m) }

// startProcess serves cfg rendered with v ({{.listen}} and {{.admin}} bind
// port 0) from the real binary and waits for /readyz.
func startProcess(t *testing.T, cfg string, v vars) *process {
	t.Helper()
	return gatewaytest.Start(t, cfg, v, gatewaytest.Options{LogLevel: "info"})
}

// goTool runs `go tool name args...` from the module (tools are declared in
// go.mod) with a deadline.
func goTool(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", name}, args...)...)
	return cmd.CombinedOutput()
}
