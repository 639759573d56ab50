package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// doc trims the leading newline of a raw-string YAML document, so line 1
// of the document is the first line written in the test.
func doc(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

// env is a fake environment for parse.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// parseErrs parses src as gw.yaml and returns every error's text; it fails
// the test if the config loads.
func parseErrs(t *testing.T, src string, lookup func(string) (string, bool)) []string {
	t.Helper()
	c, err := parse("gw.yaml", doc(src), lookup)
	if err == nil {
		t.Fatalf("config loaded, want errors: %+v", c)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func mustParse(t *testing.T, src string, lookup func(string) (string, bool)) *Config {
	t.Helper()
	c, err := parse("gw.yaml", doc(src), lookup)
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

func errorsJoin(errs ...error) error { return errors.Join(errs...) }

func wrap(err error) error { return fmt.Errorf("jwks: %w", err) }
