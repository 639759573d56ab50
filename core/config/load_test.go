package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("testdata/full.yaml must load cleanly:\n%v", err)
	}
	if c.File != "testdata/full.yaml" || c.Root == nil {
		t.Errorf("File = %q, Root = %v", c.File, c.Root)
	}
	if c.Server.DrainTimeout.D() != 45*time.Second || *c.Server.MergeSlashes || c.Server.MaxRequestBody != 8<<20 {
		t.Errorf("server = %+v", c.Server)
	}
	l := c.Listeners[0]
	if l.Name != "public" || l.TLS.ClientAuth != "request" || *l.TLS.HTTP2 || l.TLS.MinVersion != "1.3" ||
		len(l.TrustedProxies) != 3 || l.Timeouts.Idle.D() != time.Minute || l.MaxHeaderBytes != 32<<10 || l.HTTP2.MaxConcurrentStreams != 100 {
		t.Errorf("listener = %+v, tls = %+v", l, l.TLS)
	}
	if c.Listeners[1].Name != "127.0.0.1:8080" {
		t.Errorf("second listener's name = %q, want its address", c.Listeners[1].Name)
	}
	u := c.Upstreams["users"]
	if u.Balancer != "weighted" || u.Protocol != "auto" || u.MaxIdlePerTarget != 64 || u.Targets[0].Weight != 3 || u.Targets[1].Weight != 1 {
		t.Errorf("upstream users = %+v", u)
	}
	r := c.Routes[0]
	if len(r.Filters) != 3 || r.Filters[0].Name != "chain" || r.Filters[1].Name != "cors" || !r.Websocket || !r.PreserveHost ||
		r.Timeouts.Request.D() != 15*time.Second || r.MaxRequestBody != 1<<20 || len(r.Match.Headers) != 4 {
		t.Errorf("route users = %+v", r)
	}
	if got := c.Routes[2].Respond; got.Status != 301 || got.Headers["Location"] != "/new" || got.Body != "moved" {
		t.Errorf("respond = %+v", got)
	}
	if got := c.Routes[3].Respond.Status; got != 200 {
		t.Errorf("respond.status = %d, want the default 200", got)
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal+`  - name: ok
    respond: {}
`, env())
	c2 := mustParse(t, `
listeners:
  - address: ":8443"
    tls: {certificates: [{cert: c, key: k}], client_ca: ca.pem}
  - address: ":8444"
    tls: {certificates: [{cert: c, key: k}]}
upstreams:
  users:
    targets: [{url: "http://127.0.0.1:9001"}]
`, env())
	s := c.Server
	if s.DrainTimeout.D() != 30*time.Second || s.UnderscoreHeaders != "drop" || s.MergeSlashes == nil || !*s.MergeSlashes || s.MaxRequestBody != 16<<20 {
		t.Errorf("server defaults = %+v", s)
	}
	if r := s.MinRequestBodyRate; r.BytesPerSecond == nil || *r.BytesPerSecond != 240 || r.Grace.D() != 5*time.Second {
		t.Errorf("min_request_body_rate defaults = %+v", r)
	}
	off := mustParse(t, minimal+`  - name: ok
    respond: {}
    min_request_body_rate: {grace: 1m}
server: {min_request_body_rate: {bytes_per_second: 0}}
`, env())
	if r := off.Server.MinRequestBodyRate; r.BytesPerSecond == nil || *r.BytesPerSecond != 0 {
		t.Errorf("min_request_body_rate with bytes_per_second: 0 = %+v, want the check off (0, not the default)", r)
	}
	if r := off.Routes[len(off.Routes)-1].MinRequestBodyRate; r == nil || r.Grace.D() != time.Minute || r.BytesPerSecond != nil {
		t.Errorf("route min_request_body_rate = %+v, want grace 1m and the rate left to the server", r)
	}
	l := c.Listeners[0]
	want := ServerTimeouts{Duration(10 * time.Second), Duration(60 * time.Second), Duration(60 * time.Second), Duration(120 * time.Second)}
	if l.Name != ":8080" || l.Timeouts != want || l.MaxHeaderBytes != 64<<10 || l.HTTP2.MaxConcurrentStreams != 250 || l.TLS != nil {
		t.Errorf("listener defaults = %+v", l)
	}
	if c.Admin.Address != "127.0.0.1:9901" {
		t.Errorf("admin.address = %q", c.Admin.Address)
	}
	u := c.Upstreams["users"]
	wantT := UpstreamTimeouts{Connect: Duration(5 * time.Second), ResponseHeader: Duration(30 * time.Second), Idle: Duration(90 * time.Second)}
	if u.Balancer != "round_robin" || u.Protocol != "http1" || u.MaxIdlePerTarget != 256 || u.Timeouts != wantT || u.Targets[0].Weight != 1 {
		t.Errorf("upstream defaults = %+v", u)
	}
	if got := c.Routes[1].Respond.Status; got != 200 {
		t.Errorf("respond.status = %d", got)
	}
	withCA, without := c2.Listeners[0].TLS, c2.Listeners[1].TLS
	if withCA.ClientAuth != "require" || without.ClientAuth != "none" || withCA.MinVersion != "1.2" || withCA.HTTP2 == nil || !*withCA.HTTP2 {
		t.Errorf("tls defaults = %+v / %+v", withCA, without)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"syntax", "admin:\n  address: a: b\n", "gw.yaml:2: invalid YAML: mapping values are not allowed in this context"},
		{"syntax on the first line", "admin: a: b\n", "gw.yaml:1: invalid YAML: mapping values are not allowed in this context"},
		{"control character", "admin:\n  address: \"a\x01\"\n", "gw.yaml:2:14: invalid YAML: control characters are not allowed"},
		{"invalid UTF-8", "listeners: []\nrouteś: [\xff]\n", "gw.yaml:2:10: invalid YAML: invalid leading UTF-8 octet"},
		{"empty", "", `gw.yaml: the config is empty; it needs at least one listener, e.g. listeners: [{address: ":8080"}]`},
		{"only comments", "# nothing\n", `gw.yaml: the config is empty`},
		{"two documents", "listeners: []\n---\nroutes: []\n", `gw.yaml:2: a config file holds one YAML document; merge this one (after "---") into the first`},
		{"not a mapping", "- a\n", `gw.yaml:1:1: expected a mapping (key: value), got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(parseErrs(t, tt.src, env()), "\n")
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("errors:\n%s\nwant a start of %q", got, tt.want)
			}
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || !strings.HasSuffix(err.Error(), "missing.yaml: cannot read the config file: no such file or directory") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestLoadReadsEnvironment(t *testing.T) {
	t.Setenv("WASMGATE_TEST_ADDR", ":9999")
	path := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(path, []byte("listeners: [{address: \"${WASMGATE_TEST_ADDR}\"}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil || c.Listeners[0].Address != ":9999" {
		t.Fatalf("Load = %+v, %v", c, err)
	}
}

func TestResolve(t *testing.T) {
	c := mustParse(t, minimal+`    filters:
      - headers:
          request:
            set:
              X-Foo: a
              "X-Foo.bar": b
            remove: [X-A, X-B]
`, env())
	base := "routes[0].filters[0].headers"
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"nested key", FieldErr("request.set.X-Foo", "bad value"),
			[]string{"gw.yaml:13:15: routes[0].filters[0].headers.request.set.X-Foo: bad value"}},
		{"quoted key", FieldErr(`request.set["X-Foo.bar"]`, "bad"),
			[]string{`gw.yaml:14:15: routes[0].filters[0].headers.request.set["X-Foo.bar"]: bad`}},
		{"index", FieldErr("request.remove[1]", "dup"),
			[]string{"gw.yaml:15:27: routes[0].filters[0].headers.request.remove[1]: dup"}},
		{"missing field falls back to the deepest ancestor", FieldErr("request.set.X-Missing.deeper", "required"),
			[]string{"gw.yaml:12:13: routes[0].filters[0].headers.request.set.X-Missing.deeper: required"}},
		{"block itself", FieldErr("", "whole block"),
			[]string{"gw.yaml:10:9: routes[0].filters[0].headers: whole block"}},
		{"plain error at base", os.ErrInvalid,
			[]string{"gw.yaml:10:9: routes[0].filters[0].headers: invalid argument"}},
		{"joined", errorsJoin(FieldErr("request", "one"), FieldErr("request.remove", "two")),
			[]string{"gw.yaml:11:11: routes[0].filters[0].headers.request: one", "gw.yaml:15:13: routes[0].filters[0].headers.request.remove: two"}},
		{"wrapped", wrap(FieldErr("request.set", "bad")),
			[]string{"gw.yaml:12:13: routes[0].filters[0].headers.request.set: jwks: bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range c.Resolve(base, tt.err) {
				got = append(got, e.Error())
			}
			wantErrs(t, got, tt.want...)
		})
	}
	if e := c.Errorf("upstreams.users.targets[0].url", "unreachable"); e.Error() != "gw.yaml:5:16: upstreams.users.targets[0].url: unreachable" {
		t.Errorf("Errorf = %v", e)
	}
	// A filter decoding its block with Decode gets the same positions.
	var block struct {
		Request struct {
			Set map[string]int `yaml:"set"`
		} `yaml:"request"`
	}
	err := Decode(c.File, c.Routes[0].Filters[0].Node, base, &block)
	if err == nil || !strings.HasPrefix(err.Error(), `gw.yaml:13:22: routes[0].filters[0].headers.request.set.X-Foo: expected an integer, got "a"`) {
		t.Errorf("Decode of a filter block: %v", err)
	}
}

func TestParsePath(t *testing.T) {
	steps, ok := parsePath(`a.b[2]["c.d"].e-f[10]`)
	want := []pathStep{{key: "a"}, {key: "b"}, {index: 2, isIndex: true}, {key: "c.d"}, {key: "e-f"}, {index: 10, isIndex: true}}
	if !ok || len(steps) != len(want) {
		t.Fatalf("steps = %+v, %v", steps, ok)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, steps[i], want[i])
		}
	}
	for _, bad := range []string{"a[", "a[x]", `a["b]`, "a[-1]"} {
		if _, ok := parsePath(bad); ok {
			t.Errorf("parsePath(%q) ok", bad)
		}
	}
	if got := JoinKey(JoinKey("", "set"), "X.Y"); got != `set["X.Y"]` {
		t.Errorf("JoinKey = %s", got)
	}
}

func FuzzParse(f *testing.F) {
	full, _ := os.ReadFile("testdata/full.yaml")
	for _, seed := range []string{string(full), minimal, "listeners: &a [*a]\n", "a: &a {<<: *a}\n",
		"routes: [{filters: [{chain: x}, ~, {a: 1, b: 2}]}]\n", "server: {max_request_body: 9999999999GiB}\n",
		"listeners: [{address: \"${X:-:1}\"}]\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz.yaml", data, env("X", "1"))
		if (c == nil) == (err == nil) {
			t.Fatalf("parse returned config %v and error %v", c, err)
		}
		if err != nil {
			for _, e := range err.(Errors) {
				if e.Msg == "" {
					t.Fatalf("empty message in %v", err)
				}
			}
			return
		}
		// Whatever loaded must resolve any of its paths without trouble.
		c.Errorf("routes[0].filters[0].x", "probe")
		for _, r := range c.Routes {
			for _, spec := range r.Filters {
				var out map[string]any
				_ = Decode(c.File, spec.Node, "f", &out)
				if spec.Node == nil {
					t.Fatal("FilterSpec.Node is nil")
				}
			}
		}
	})
}
