package all_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	_ "github.com/wasmgate/wasmgate/filters/all"
)

// These tests load configs with every built-in filter and section linked
// in, as the binary does: what they pin (unknown-field lists, redaction,
// scrubbing of ${ENV} values) depends on all sections at once. Each
// section's own checks are tested beside it.

// doc trims the leading newline of a raw-string YAML document, so line 1
// of the document is the first line written in the test.
func doc(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

// setenv sets name=value pairs for the test.
func setenv(t *testing.T, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// parseErrs parses src as gw.yaml with the environment kv and returns
// every error's text; it fails the test if the config loads.
func parseErrs(t *testing.T, src string, kv ...string) []string {
	t.Helper()
	setenv(t, kv...)
	c, err := config.Parse("gw.yaml", doc(src))
	if err == nil {
		t.Fatalf("config loaded, want errors: %+v", c)
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func mustParse(t *testing.T, src string, kv ...string) *config.Config {
	t.Helper()
	setenv(t, kv...)
	c, err := config.Parse("gw.yaml", doc(src))
	if err != nil {
		t.Fatalf("unexpected errors:\n%v", err)
	}
	return c
}

// wantErrs checks that got holds exactly want, in order.
func wantErrs(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// minimal is the smallest valid config, for tests that change one thing.
const minimal = `
listeners:
  - address: ":8080"
upstreams:
  users:
    targets: [{url: "http://127.0.0.1:9001"}]
routes:
  - name: users
    upstream: users
`

// filterConfig is what the gateway hands config.Redact: a new config of
// the filter registered under name.
func filterConfig(name string) any {
	if fc, ok := filter.Lookup(name); ok {
		return fc
	}
	return nil
}
