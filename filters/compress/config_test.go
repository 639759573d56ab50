package compress

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/gateway"
)

// TestConfigErrors: each mistake is named with its file, line and field.
func TestConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := `listeners: [{ address: "127.0.0.1:0" }]
upstreams:
  u: { targets: [{ url: "http://127.0.0.1:1" }] }
routes:
  - name: r
    match: { prefix: / }
    filters:
      - compress:
          encodings: [gzip, brotli, gzip]
          content_types: ["json", "*/json", "text/plain; charset=utf-8", "application/*+json"]
          levels: { gzip: 10, br: 12, zstd: 5 }
    upstream: u
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.Validate(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("validate must fail")
	}
	for _, want := range []string{
		`:9:29: routes[0].filters[0].compress.encodings[1]: "brotli" is not an encoding this filter produces; valid: gzip, br, zstd`,
		`:9:37: routes[0].filters[0].compress.encodings[2]: "gzip" is listed twice`,
		`:10:27: routes[0].filters[0].compress.content_types[0]: "json" is not a media type`,
		`:10:35: routes[0].filters[0].compress.content_types[1]: "*/json" has a wildcard type`,
		`:10:45: routes[0].filters[0].compress.content_types[2]: "text/plain; charset=utf-8" holds parameters`,
		`:11:21: routes[0].filters[0].compress.levels.gzip: 10 is not a gzip level`,
		`:11:31: routes[0].filters[0].compress.levels.br: 12 is not a brotli level`,
		`:11:39: routes[0].filters[0].compress.levels.zstd: 5 is not a zstd level`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors:\n%v\nlack:\n%s", err, want)
		}
	}
	if strings.Contains(err.Error(), "content_types[3]") {
		t.Errorf("a valid suffix pattern is refused:\n%v", err)
	}
}
