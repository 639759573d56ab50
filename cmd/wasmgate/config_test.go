package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/cmd/wasmgate/demo"
	"github.com/wasmgate/wasmgate/cmd/wasmgate/internal/fielddocs"
	"github.com/wasmgate/wasmgate/core/config"
)

// compiledSchema compiles what `wasmgate config schema` prints, with a
// real validator (which also checks it is a valid 2020-12 schema).
func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, _, err := runCLI(t, "config", "schema")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(config.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(config.SchemaID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

// asJSON reads YAML as an editor's language server does: to the JSON
// data model the schema is checked against.
func asJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	// Through JSON, so that numbers and maps are what a validator expects.
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The configs the project ships or tests as valid all pass the schema.
func TestSchemaAcceptsShippedConfigs(t *testing.T) {
	s := compiledSchema(t)
	configs := map[string][]byte{"demo (embedded)": demo.YAML()}
	files, _ := filepath.Glob("../../test/load/configs/*.yaml")
	files = append(files, "../../core/config/testdata/full.yaml")
	if len(files) < 2 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		configs[f] = b
	}
	// The README's configs and top-level parts of configs (not the lists
	// of routes or filters shown alone), as a reader copies them.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, block := range strings.Split(string(readme), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if _, isList := asJSON(t, []byte(block)).([]any); !isList {
			configs[fmt.Sprintf("README.md, yaml block %d", i+1)] = []byte(block)
		}
	}
	for name, src := range configs {
		if err := s.Validate(asJSON(t, src)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// What validate refuses for its shape, the schema refuses too; and what
// it takes, the schema takes.
func TestSchemaAgreesWithValidate(t *testing.T) {
	s := compiledSchema(t)
	const base = "listeners: [{address: \":8080\"}]\nupstreams: {u: {targets: [{url: \"http://127.0.0.1:9\"}]}}\n"
	for _, tt := range []struct {
		name, src string
		valid     bool
	}{
		{"minimal", base + "routes: [{name: r, upstream: u}]\n", true},
		{"durations, sizes, enums, env", `server: {drain_timeout: 5s, max_request_body: 16MiB, underscore_headers: reject}
upstreams: {u: {targets: [{url: "http://127.0.0.1:9"}], timeouts: {connect: "${CONNECT:-1s}"}, protocol: h2c}}
listeners: [{address: ":8080", max_header_bytes: 32768, trusted_proxies: [10.0.0.0/8]}]
observability: {access_log: {format: text}, tracing: {otlp_endpoint: "http://127.0.0.1:4317", protocol: grpc}}
routes: [{name: r, upstream: u, filters: [{cors: {allow_origins: ["*"], max_age: 10m}}, {rate_limit: {rate: 10/s, key: [client_ip, "header:X-User"]}}]}]
`, true},
		{"unknown top-level key", base + "routs: []\n", false},
		{"unknown key in a block", base + "server: {drain_timout: 5s}\n", false},
		{"unknown key in a filter", base + "routes: [{name: r, upstream: u, filters: [{cors: {allow_origin: [\"*\"]}}]}]\n", false},
		{"unknown filter", base + "routes: [{name: r, upstream: u, filters: [{corz: {}}]}]\n", false},
		{"two filters in one entry", base + "routes: [{name: r, upstream: u, filters: [{cors: {allow_origins: [\"*\"]}, jwt: {}}]}]\n", false},
		{"bad duration", base + "server: {drain_timeout: 5 seconds}\n", false},
		{"duration without unit", base + "server: {drain_timeout: 30}\n", false},
		{"bad size unit", base + "server: {max_request_body: 16MB2}\n", false},
		{"bad enum", base + "server: {underscore_headers: drpo}\n", false},
		{"bad rate", base + "routes: [{name: r, upstream: u, filters: [{rate_limit: {rate: 10 per second}}]}]\n", false},
		{"list for a mapping", base + "admin: [a]\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gw.yaml")
			if err := os.WriteFile(file, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, err := runCLI(t, "validate", "-c", file)
			if tt.valid && err != nil {
				t.Log(stderr)
			}
			schemaErr := s.Validate(asJSON(t, []byte(tt.src)))
			if (err == nil) != tt.valid {
				t.Errorf("validate: %v, want valid=%v", err, tt.valid)
			}
			if (schemaErr == nil) != tt.valid {
				t.Errorf("schema: %v, want valid=%v", schemaErr, tt.valid)
			}
		})
	}
}

// Every field an editor completes says what it is.
func TestSchemaDescribesEveryField(t *testing.T) {
	out, _, err := runCLI(t, "config", "schema")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(out), &schema); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for key, p := range props {
					if d, _ := p.(map[string]any)["description"].(string); d == "" {
						missing = append(missing, path+".properties."+key)
					}
				}
			}
			for k, c := range v {
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("", schema)
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("properties without a description (give the Go field a doc comment, then go generate ./cmd/wasmgate):\n%s", strings.Join(missing, "\n"))
	}
	if n := len(schemaDocs); n < 300 {
		t.Errorf("only %d descriptions", n)
	}
}

// schemadocs.go is what go generate writes from the source as it is now.
func TestSchemaDocsCurrent(t *testing.T) {
	want, err := fielddocs.Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("schemadocs.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("schemadocs.go is stale: run go generate ./cmd/wasmgate")
	}
}
