package ratelimit_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	_ "github.com/wasmgate/wasmgate/filters/ratelimit"
	"github.com/wasmgate/wasmgate/internal/gwtest"
)

const reloadConfig = `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - name: limited
    match: { path: /limited }
    filters:
      - rate_limit: { rate: 2/h }
    respond: { body: "ok" }
`

// Through a real gateway: a reload that leaves a policy as it was keeps its
// buckets (a reload is no way to reset everyone's limit); one that changes
// the policy starts it afresh.
func TestReloadKeepsBudgets(t *testing.T) {
	g, base, file := gwtest.Serve(t, reloadConfig)
	get := func() int {
		t.Helper()
		resp, err := http.Get(base + "/limited")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	reload := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []int{200, 200, 429} {
		if got := get(); got != want {
			t.Fatalf("request %d: %d, want %d", i+1, got, want)
		}
	}
	reload(reloadConfig + `
  - name: other
    match: { path: /other }
    respond: { body: "other" }
`)
	if got := get(); got != 429 {
		t.Errorf("after a reload that kept the policy: %d, want 429 (the spent budget is kept)", got)
	}
	reload(strings.Replace(reloadConfig, "rate: 2/h", "rate: 3/h", 1))
	if got := get(); got != 200 {
		t.Errorf("after a reload that changed the policy: %d, want 200 (a new budget)", got)
	}
}
