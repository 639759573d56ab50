package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// runCLI runs wasmgate with args in dir and returns its output and exit status.
func runCLI(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatewaytest.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("wasmgate %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

const validConfig = `listeners:
  - address: "127.0.0.1:0"
admin: { address: "off" }
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:9" }] }
routes:
  - name: a
    match: { path: "/a/{id}" }
    upstream: api
`

func TestCLI(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()

	t.Run("validate good", func(t *testing.T) {
		writeFile(t, dir, "good.yaml", validConfig)
		out, errOut, code := runCLI(t, dir, "validate", "-c", "good.yaml")
		if code != 0 || !strings.Contains(out, "good.yaml: ok") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0 and \"good.yaml: ok\"", code, out, errOut)
		}
	})

	t.Run("validate leaves no trace", func(t *testing.T) {
		// validate builds everything that proves the config (the access
		// log's directory is checked) but creates no file.
		logFile := filepath.Join(dir, "logs", "access.log")
		if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "logged.yaml", validConfig+"observability: { access_log: { path: "+strconv.Quote(logFile)+" } }\n")
		if out, errOut, code := runCLI(t, dir, "validate", "-c", "logged.yaml"); code != 0 {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if _, err := os.Stat(logFile); !os.IsNotExist(err) {
			t.Errorf("validate created the access log %s (stat: %v)", logFile, err)
		}
		missing := filepath.Join(dir, "nowhere", "access.log")
		writeFile(t, dir, "nowhere.yaml", validConfig+"observability: { access_log: { path: "+strconv.Quote(missing)+" } }\n")
		_, errOut, code := runCLI(t, dir, "validate", "-c", "nowhere.yaml")
		if code != 1 || !strings.Contains(errOut, "observability.access_log.path: cannot open the access log") {
			t.Errorf("an access log in a missing directory: exit %d, stderr %q; want 1 naming access_log.path", code, errOut)
		}
	})

	cases := []struct {
		name, config string
		want         []string // exact lines, in order
	}{
		{
			name: "unknown keys",
			config: `listeners:
  - address: "127.0.0.1:0"
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:9" }] }
routes:
  - name: a
    match: { path: /a, methodz: [GET] }
    upstream: api
  - name: b
    match: { path: /b }
    upstrem: api
`,
			want: []string{
				`bad.yaml:7:24: routes[0].match.methodz: unknown field "methodz"; valid fields: headers, hosts, methods, path, prefix, query, regex, scheme; did you mean "methods"?`,
				`bad.yaml:11:5: routes[1].upstrem: unknown field "upstrem"; valid fields: aggregate, deprecation, docs, filters, match, max_request_body, metadata, min_request_body_rate, min_response_rate, mirror, name, preserve_host, redirect, respond, retries, rewrite, split, split_by, split_force, timeouts, upstream, version, websocket; did you mean "upstream"?`,
			},
		},
		{
			name: "unknown upstream and duplicate route",
			config: `listeners:
  - address: "127.0.0.1:0"
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:9" }] }
routes:
  - name: a
    match: { path: /a }
    upstream: apj
  - name: a
    match: { path: /b }
    upstream: api
`,
			want: []string{
				`bad.yaml:8:5: routes[0].upstream: unknown upstream "apj"; valid upstreams: api`,
				`bad.yaml:9:5: routes[1].name: `,
			},
		},
		{
			name: "unknown key and unknown upstream",
			config: `listeners:
  - address: "127.0.0.1:0"
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:9" }] }
routes:
  - name: a
    match: { path: /a }
    upstrem: api
  - name: b
    match: { path: /b }
    upstream: nope
`,
			want: []string{
				`bad.yaml:8:5: routes[0].upstrem: unknown field "upstrem"; `,
				`bad.yaml:11:5: routes[1].upstream: unknown upstream "nope"; valid upstreams: api`,
			},
		},
	}
	for _, tt := range cases {
		t.Run("validate "+tt.name, func(t *testing.T) {
			sub := t.TempDir()
			writeFile(t, sub, "bad.yaml", tt.config)
			out, errOut, code := runCLI(t, sub, "validate", "-c", "bad.yaml")
			if code != 1 {
				t.Errorf("exit %d, want 1; stdout %q", code, out)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != len(tt.want)+1 {
				t.Fatalf("stderr has %d lines, want %d problems and a summary:\n%s", len(lines), len(tt.want), errOut)
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("problem %d:\n got %s\nwant %s", i+1, lines[i], want)
				}
			}
			if summary := lines[len(lines)-1]; !strings.Contains(summary, "bad.yaml") || !strings.Contains(summary, "2 problem") {
				t.Errorf("summary line %q", summary)
			}
		})
	}

	t.Run("version", func(t *testing.T) {
		out, _, code := runCLI(t, dir, "version")
		if code != 0 || !strings.HasPrefix(out, "wasmgate ") || !strings.Contains(out, "go:      "+runtime.Version()) {
			t.Errorf("exit %d, output %q; want the version and %s", code, out, runtime.Version())
		}
	})

	t.Run("serve missing config", func(t *testing.T) {
		_, errOut, code := runCLI(t, dir, "serve", "-c", "missing.yaml")
		if code == 0 || !strings.Contains(errOut, "missing.yaml") || !strings.Contains(errOut, "no such file") {
			t.Errorf("exit %d, stderr %q; want non-zero naming missing.yaml and why", code, errOut)
		}
	})

	t.Run("validate missing config", func(t *testing.T) {
		_, errOut, code := runCLI(t, dir, "validate", "-c", "missing.yaml")
		if code != 1 || !strings.Contains(errOut, "missing.yaml") {
			t.Errorf("exit %d, stderr %q; want 1 naming missing.yaml", code, errOut)
		}
	})
}
