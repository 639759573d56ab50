package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestUnknownFieldSuggests(t *testing.T) {
	got := parseErrs(t, `
listeners:
  - adress: ":8080"
`, env())
	wantErrs(t, got,
		`gw.yaml:2:5: listeners[0].adress: unknown field "adress"; valid fields: accept_rate, address, engine, h2c, http2, http3, max_connections, max_connections_per_ip, max_header_bytes, max_header_count, name, timeouts, tls, trusted_proxies; did you mean "address"?`)
}

func TestUnknownFieldWithoutNearName(t *testing.T) {
	got := parseErrs(t, `
bogus: 1
`+withListener, env())
	wantErrs(t, got,
		`gw.yaml:1:1: bogus: unknown field "bogus"; valid fields: admin, consumers, filter_chains, listeners, observability, routes, server, upstreams, versioning, widgets`)
}

// withListener completes a document that tests one decode error, so that
// validation (which runs too) has nothing else to report.
const withListener = "listeners: [{address: \":8080\"}]\n"

func TestWrongTypes(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bool", "server:\n  merge_slashes: yes\n",
			`gw.yaml:2:18: server.merge_slashes: expected true or false, got "yes"`},
		{"list", "listeners: \":8080\"\n",
			`gw.yaml:1:12: listeners: expected a list, got ":8080"`},
		{"mapping", "server: [1]\n",
			`gw.yaml:1:9: server: expected a mapping (key: value), got a list`},
		{"string", "admin:\n  address: {a: 1}\n",
			`gw.yaml:2:12: admin.address: expected a string, got a mapping`},
		{"int", "listeners:\n  - address: \":1\"\n    http2: {max_concurrent_streams: many}\n",
			`gw.yaml:3:37: listeners[0].http2.max_concurrent_streams: expected an integer, got "many"`},
		{"int range", "listeners:\n  - address: \":1\"\n    http2: {max_concurrent_streams: 99999999999999999999}\n",
			`gw.yaml:3:37: listeners[0].http2.max_concurrent_streams: 99999999999999999999 is out of range for this field (64-bit integer)`},
		{"duration", "server:\n  drain_timeout: abc\n",
			`gw.yaml:2:18: server.drain_timeout: expected a duration like "250ms" or "5s", got "abc"`},
		{"duration without unit", "server:\n  drain_timeout: 30\n",
			`gw.yaml:2:18: server.drain_timeout: expected a duration like "250ms" or "5s", got "30" (a unit is required)`},
		{"negative duration", "server:\n  drain_timeout: -1s\n",
			`gw.yaml:2:18: server.drain_timeout: expected a duration like "250ms" or "5s", got "-1s": durations cannot be negative`},
		{"size unit", "server:\n  max_request_body: 16mb\n",
			`gw.yaml:2:21: server.max_request_body: expected a size like "512", "64KiB" or "16MiB" (units: B, KB, MB, GB, KiB, MiB, GiB), got "16mb"`},
		{"negative size", "server:\n  max_request_body: -5\n",
			`gw.yaml:2:21: server.max_request_body: expected a size like "512", "64KiB" or "16MiB" (units: B, KB, MB, GB, KiB, MiB, GiB), got "-5": sizes cannot be negative`},
		{"size overflow", "server:\n  max_request_body: 9999999999GiB\n",
			`gw.yaml:2:21: server.max_request_body: "9999999999GiB" is too large; the most is 9223372036854775807 bytes`},
		{"cidr", "listeners:\n  - address: \":1\"\n    trusted_proxies: [10.0.0.0/33]\n",
			`gw.yaml:3:23: listeners[0].trusted_proxies[0]: expected an IP prefix like "10.0.0.0/8" or "2001:db8::/32", or an address like "192.0.2.1", got "10.0.0.0/33"`},
		{"duplicate key", "admin:\n  address: off\n  address: \":9\"\n",
			`gw.yaml:3:3: admin.address: duplicate key "address" (first set at line 2); keep one`},
		{"duplicate key in a large mapping", "upstreams:\n" + manyUpstreams(20) + "  u3: { targets: [{ url: \"http://127.0.0.1:1\" }] }\n",
			`gw.yaml:22:3: upstreams.u3: duplicate key "u3" (first set at line 5); keep one`},
		{"map of structs", "upstreams:\n  users: [1]\n",
			`gw.yaml:2:10: upstreams.users: expected a mapping (key: value), got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if !strings.Contains(src, "listeners") {
				src += withListener
			}
			got := parseErrs(t, src, env())
			wantErrs(t, got, tt.want)
		})
	}
}

func TestUnits(t *testing.T) {
	c := mustParse(t, `
server:
  drain_timeout: 1m30s
  max_request_body: 10kB
listeners:
  - address: ":8080"
    max_header_bytes: 1KiB
    timeouts: {read: 0, write: 250ms}
    trusted_proxies: [10.1.2.3/8, 192.0.2.1, "2001:db8::1", "2001:db8::/32"]
`, env())
	if got := c.Server.DrainTimeout.D(); got != 90*time.Second {
		t.Errorf("drain_timeout = %v, want 1m30s", got)
	}
	if got := c.Server.MaxRequestBody; got != 10000 {
		t.Errorf("max_request_body = %d, want 10000", got)
	}
	l := c.Listeners[0]
	if l.MaxHeaderBytes != 1024 {
		t.Errorf("max_header_bytes = %d, want 1024", l.MaxHeaderBytes)
	}
	if l.Timeouts.Write.D() != 250*time.Millisecond || l.Timeouts.Read.D() != defaultReadTimeout {
		t.Errorf("timeouts = %+v, want write 250ms and read defaulted", l.Timeouts)
	}
	var prefixes []string
	for _, p := range l.TrustedProxies {
		prefixes = append(prefixes, p.String())
	}
	if got, want := strings.Join(prefixes, " "), "10.0.0.0/8 192.0.2.1/32 2001:db8::1/128 2001:db8::/32"; got != want {
		t.Errorf("trusted_proxies = %s, want %s", got, want)
	}
}

func TestSizes(t *testing.T) {
	tests := map[string]Size{
		"0": 0, "512": 512, "512B": 512, "1KB": 1000, "1kB": 1000, "2MB": 2e6, "3GB": 3e9,
		"1KiB": 1024, "16MiB": 16 << 20, "1GiB": 1 << 30, "4 KiB": 4096,
	}
	for text, want := range tests {
		var s Size
		if err := s.UnmarshalNode(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: text}); err != nil || s != want {
			t.Errorf("%q: got %d, %v; want %d", text, s, err, want)
		}
	}
	for _, bad := range []string{"", "KiB", "1.5MiB", "1TiB", "0x10", "1 2KB"} {
		var s Size
		if err := s.UnmarshalNode(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: bad}); err == nil {
			t.Errorf("%q: got %d, want an error", bad, s)
		}
	}
}

func TestManyErrorsAtOnce(t *testing.T) {
	got := parseErrs(t, `
server:
  drain_timeout: soon
listeners:
  - address: ":8080"
    h2c: maybe
routes:
  - name: a
    match: {methods: GET}
    wat: 1
`, env())
	wantErrs(t, got,
		`gw.yaml:2:18: server.drain_timeout: expected a duration like "250ms" or "5s", got "soon"`,
		`gw.yaml:5:10: listeners[0].h2c: expected true or false, got "maybe"`,
		`gw.yaml:8:22: routes[0].match.methods: expected a list, got "GET"`,
		`gw.yaml:9:5: routes[0].wat: unknown field "wat"; valid fields: aggregate, deprecation, docs, filters, match, max_request_body, metadata, min_request_body_rate, min_response_rate, mirror, name, preserve_host, redirect, respond, retries, rewrite, split, split_by, split_force, timeouts, upstream, version, websocket`,
	)
}

func TestAliasesAndMerge(t *testing.T) {
	c := mustParse(t, `
listeners:
  - &l {address: ":8080", h2c: true}
  - {<<: *l, address: ":8081"}
upstreams:
  a:
    targets: &targets [{url: "http://127.0.0.1:1"}]
    timeouts: &slow {connect: 1s, response_header: 2m}
  b:
    targets: *targets
    timeouts:
      <<: *slow
      connect: 3s
routes:
  - name: a
    upstream: a
`, env())
	if l := c.Listeners[1]; l.Address != ":8081" || !l.H2C {
		t.Errorf("merged listener = %+v, want address :8081 with h2c from the anchor", l)
	}
	b := c.Upstreams["b"]
	if len(b.Targets) != 1 || b.Targets[0].URL != "http://127.0.0.1:1" {
		t.Errorf("aliased targets = %+v", b.Targets)
	}
	if b.Timeouts.Connect.D() != 3*time.Second || b.Timeouts.ResponseHeader.D() != 2*time.Minute {
		t.Errorf("merged timeouts = %+v, want connect 3s (own) and response_header 2m (merged)", b.Timeouts)
	}
}

// Aliases that refer to their own anchor must be an error, not a hang or
// a stack overflow; exponential ones must be refused quickly.
func TestAliasCycles(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"self list", "listeners: &a [*a]\n", `listeners[0]: alias *a refers to a value that contains it`},
		{"self merge", "admin: &a {<<: *a, address: \"9\"}\nlisteners: [{address: \":1\"}]\n", `admin.address: "9" is not host:port`},
		{"merge not a mapping", "admin: {<<: 5}\n", `admin.<<: a merge key (<<) takes a mapping or a list of mappings`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(parseErrs(t, tt.src, env()), "\n")
			if !strings.Contains(got, tt.want) {
				t.Errorf("errors:\n%s\nwant one containing %q", got, tt.want)
			}
		})
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &n); err != nil {
		t.Fatal(err)
	}
	// A struct with a0 []string, a1 [][]string, ... so every level decodes.
	var fields []reflect.StructField
	typ := reflect.TypeFor[string]()
	for i := range 9 {
		typ = reflect.SliceOf(typ)
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("A%d", i), Type: typ, Tag: reflect.StructTag(fmt.Sprintf(`yaml:"a%d"`, i))})
	}
	out := reflect.New(reflect.StructOf(fields)).Interface()
	start := time.Now()
	err := Decode("bomb.yaml", &n, "", out)
	if err == nil || !strings.Contains(err.Error(), "expands through aliases to more than") || !strings.Contains(err.Error(), "alias bomb") {
		t.Fatalf("err = %v, want the alias expansion limit, named as such", err)
	}
	// The bomb expands to 10^9 nodes: decoding it in full takes hours or
	// runs out of memory. Stopping at the limit takes a second or two, and
	// ~12s under -race on a loaded 2-core machine: the bound only catches
	// a decoder that does not stop.
	if d := time.Since(start); d > time.Minute {
		t.Errorf("took %v", d)
	}
}

// Decode is what filter packages use on their FilterSpec nodes: the field
// prefix must show in paths, and positions must be the document's.
func TestDecodeWithPrefix(t *testing.T) {
	type headers struct {
		Set    map[string]string `yaml:"set"`
		Remove []string          `yaml:"remove"`
		Max    *int              `yaml:"max"`
		Ratio  float64           `yaml:"ratio"`
		Raw    *yaml.Node        `yaml:"raw"`
		Any    any               `yaml:"any"`
		Skip   string            `yaml:"-"`
	}
	var n yaml.Node
	src := "set: {X-Foo: a, \"X.Bar\": [1]}\nremove: x\nmax: 3\nratio: 0.5\nraw: {k: v}\nany: {a: [1, 2]}\n-: 1\n"
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	var h headers
	err := Decode("gw.yaml", &n, "routes[2].filters[0].headers", &h)
	wantErrs(t, strings.Split(err.Error(), "\n"),
		`gw.yaml:1:26: routes[2].filters[0].headers.set["X.Bar"]: expected a string, got a list`,
		`gw.yaml:2:9: routes[2].filters[0].headers.remove: expected a list, got "x"`,
		`gw.yaml:7:1: routes[2].filters[0].headers.-: unknown field "-"; valid fields: any, max, ratio, raw, remove, set`,
	)
	if h.Set["X-Foo"] != "a" || h.Max == nil || *h.Max != 3 || h.Ratio != 0.5 {
		t.Errorf("decoded %+v", h)
	}
	if h.Raw == nil || h.Raw.Kind != yaml.MappingNode || h.Raw.Line != 5 {
		t.Errorf("raw node = %+v, want the mapping on line 5", h.Raw)
	}
	if m, ok := h.Any.(map[string]any); !ok || len(m["a"].([]any)) != 2 {
		t.Errorf("any = %#v", h.Any)
	}
	if err := Decode("", &n, "", h); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
}

func TestNullLeavesValue(t *testing.T) {
	type block struct {
		N     int       `yaml:"n"`
		P     *Duration `yaml:"p"`
		Names []string  `yaml:"names"`
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("n: ~\np:\nnames: [a, ~]\n"), &n); err != nil {
		t.Fatal(err)
	}
	b := block{N: 7}
	if err := Decode("", &n, "", &b); err != nil {
		t.Fatal(err)
	}
	if b.N != 7 || b.P != nil || len(b.Names) != 2 || b.Names[1] != "" {
		t.Errorf("decoded %+v, want n kept at 7, p nil, names [a \"\"]", b)
	}
}

// manyUpstreams writes n upstreams u0..u(n-1), one a line: more keys than
// a mapping's duplicates are searched for without a set.
func manyUpstreams(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "  u%d: { targets: [{ url: \"http://127.0.0.1:%d\" }] }\n", i, 1000+i)
	}
	return sb.String()
}
