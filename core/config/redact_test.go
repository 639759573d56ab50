package config

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// fakeFilter is a filter config type declaring one secret field, as a
// filter package would.
type fakeFilter struct {
	Set  map[string]string `yaml:"set" redact:"secret"`
	Name string            `yaml:"name"`
}

func fakeFilters(name string) any {
	if name == "fake" {
		return new(fakeFilter)
	}
	return nil
}

const leak = "s3cr3t-LEAK"

// secretPlaces are the secret-bearing fields, each as a YAML fragment that
// puts VALUE there (a scalar) or MAP there (a mapping of one header).
var secretPlaces = map[string]string{
	"aggregate header": "routes: [{name: r, aggregate: {calls: [{name: a, upstream: u, path: /, headers: MAP}]}}]",
	"filter field":     "routes: [{name: r, upstream: u, filters: [{fake: {name: f, set: MAP}}]}]",
	"filter in chain":  "filter_chains: {c: [{fake: {set: MAP}}]}",
	"unknown filter":   "routes: [{name: r, upstream: u, filters: [{nosuch: {anything: VALUE}}]}]",
	"respond header":   "routes: [{name: r, respond: {headers: {Authorization: VALUE}}}]",
}

// redactVariants writes each secret place four ways: literally, through an
// alias of a value anchored in a field that is not secret, through a merge
// key, and with the anchor after a second alias in a field that is shown.
func redactVariants() map[string]string {
	out := map[string]string{}
	for name, place := range secretPlaces {
		lit := strings.NewReplacer("VALUE", leak, "MAP", "{X-Auth: "+leak+"}").Replace(place)
		out[name+"/literal"] = lit + "\n"
		// The anchor sits in a field that is shown; the alias makes it secret.
		anchored := "server: {server_header: &s " + leak + "}\n"
		out[name+"/alias"] = anchored + strings.NewReplacer("VALUE", "*s", "MAP", "{X-Auth: *s}").Replace(place) + "\n"
		out[name+"/alias-used-twice"] = anchored + "listeners: [{name: *s, address: \":1\"}]\n" +
			strings.NewReplacer("VALUE", "*s", "MAP", "{X-Auth: *s}").Replace(place) + "\n"
		if strings.Contains(place, "MAP") {
			// A mapping anchored where it is shown, merged into the secret place.
			out[name+"/merge"] = "routes: [{name: shown, respond: {headers: &h {X-Auth: " + leak + "}}}]\n" +
				strings.Replace(strings.Replace(place, "MAP", "{<<: *h}", 1), "routes: [", "routes2: [", 1) + "\n"
		}
	}
	return out
}

func TestRedactHidesSecretsWhereverWritten(t *testing.T) {
	for name, src := range redactVariants() {
		t.Run(name, func(t *testing.T) {
			out := string(Redact([]byte(src), fakeFilters))
			if strings.HasPrefix(out, "#") {
				t.Fatalf("not shown: %s\nsource:\n%s", out, src)
			}
			if strings.Contains(out, leak) {
				t.Errorf("the view shows the secret:\n%s\nsource:\n%s", out, src)
			}
			if !strings.Contains(out, Redacted) {
				t.Errorf("nothing redacted:\n%s", out)
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(out), &n); err != nil {
				t.Fatalf("the view does not parse: %v\n%s", err, out)
			}
			if strings.Contains(out, "&") || strings.Contains(out, "*s") || strings.Contains(out, "*h") {
				t.Errorf("anchors or aliases left:\n%s", out)
			}
		})
	}
}

func TestRedactShowsWhatIsNotSecret(t *testing.T) {
	src := doc(`
listeners:
  - address: ":${PORT}"   # a comment: hunter2
upstreams:
  users: {targets: [{url: "http://10.0.0.5:9001"}]}
routes:
  - name: users
    match: {path: /token}
    upstream: users
    filters:
      - fake: {name: visible-name, set: {X-Id: abc}}
      - chain: common
`)
	out := string(Redact(src, fakeFilters))
	for _, want := range []string{
		`address: ":${PORT}"`, "path: /token", "name: visible-name", "X-Id: '[redacted]'",
		"chain: common", `url: "http://10.0.0.5:9001"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the view shows a comment or a secret field's reference:\n%s", out)
	}
}

func TestRedactRefusesAliasBombs(t *testing.T) {
	var b strings.Builder
	b.WriteString("server: {hide_response_headers: &a0 [x, x, x, x, x, x, x, x, x, x]}\n")
	b.WriteString("listeners:\n")
	for i := 1; i < 8; i++ {
		fmt.Fprintf(&b, "  - {name: &a%d [*a%[2]d, *a%[2]d, *a%[2]d, *a%[2]d, *a%[2]d, *a%[2]d, *a%[2]d, *a%[2]d, *a%[2]d, *a%[2]d]}\n", i, i-1)
	}
	out := string(Redact([]byte(b.String()), fakeFilters))
	if !strings.HasPrefix(out, "# config not shown") || len(out) > 200 {
		t.Errorf("an alias bomb rendered as %d bytes: %.200s", len(out), out)
	}
}
