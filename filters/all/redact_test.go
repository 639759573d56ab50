package all_test

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
)

const leak = "s3cr3t-LEAK"

// secretPlaces are the secret fields of the sections and credentials other
// packages own, each as a YAML fragment that puts VALUE there (a scalar) or
// MAP there (a mapping of one header). core/config tests its own.
var secretPlaces = map[string]string{
	"redis password":   "stores: {redis: {address: \"127.0.0.1:6379\", password: VALUE}}",
	"tracing headers":  "observability: {tracing: {otlp_endpoint: \"http://127.0.0.1:4318\", headers: MAP}}",
	"plugin config":    "plugins: {p: {source: p.wasm, config: {inner: {deep: VALUE}}}}",
	"plugin vm_config": "plugins: {p: {source: p.wasm, vm_config: VALUE}}",
	"api key sha256":   "consumers: [{name: c, api_keys: [{sha256: VALUE}]}]",
	"api key clear":    "consumers: [{name: c, api_keys: [{key: VALUE}]}]",
	"bcrypt":           "consumers: [{name: c, basic_auth: [{username: u, bcrypt: VALUE}]}]",
}

// redactVariants writes each secret place three ways: literally, through an
// alias of a value anchored in a field that is not secret, and with the
// anchor after a second alias in a field that is shown; a MAP place also
// through a merge key.
func redactVariants() map[string]string {
	out := map[string]string{}
	for name, place := range secretPlaces {
		lit := strings.NewReplacer("VALUE", leak, "MAP", "{X-Auth: "+leak+"}").Replace(place)
		out[name+"/literal"] = lit + "\n"
		anchored := "server: {server_header: &s " + leak + "}\n"
		out[name+"/alias"] = anchored + strings.NewReplacer("VALUE", "*s", "MAP", "{X-Auth: *s}").Replace(place) + "\n"
		out[name+"/alias-used-twice"] = anchored + "listeners: [{name: *s, address: \":1\"}]\n" +
			strings.NewReplacer("VALUE", "*s", "MAP", "{X-Auth: *s}").Replace(place) + "\n"
		if strings.Contains(place, "MAP") {
			out[name+"/merge"] = "routes: [{name: shown, respond: {headers: &h {X-Auth: " + leak + "}}}]\n" +
				strings.Replace(place, "MAP", "{<<: *h}", 1) + "\n"
		}
	}
	return out
}

func TestRedactHidesSectionSecretsWhereverWritten(t *testing.T) {
	for name, src := range redactVariants() {
		t.Run(name, func(t *testing.T) {
			out := string(config.Redact([]byte(src), filterConfig))
			if strings.HasPrefix(out, "#") {
				t.Fatalf("not shown: %s\nsource:\n%s", out, src)
			}
			if strings.Contains(out, leak) {
				t.Errorf("the view shows the secret:\n%s\nsource:\n%s", out, src)
			}
			if !strings.Contains(out, config.Redacted) {
				t.Errorf("nothing redacted:\n%s", out)
			}
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(out), &n); err != nil {
				t.Fatalf("the view does not parse: %v\n%s", err, out)
			}
		})
	}
}

// What a section's type does not call secret is shown: hiding it would
// make /config useless for the blocks an operator checks most.
func TestRedactShowsWhatSectionsDoNotHide(t *testing.T) {
	src := doc(`
listeners:
  - address: ":8080"
stores:
  redis: {address: "${REDIS_ADDR}", password: "${REDIS_PASSWORD}", username: gw}
plugins:
  shown: {source: a.wasm, config_visible: true, config: {rules: [allow-all]}, limits: {memory: 16MiB}}
  hidden: {source: b.wasm, config_visible: "${SHOW}", config: {rules: [allow-all]}}
observability:
  metrics: {prometheus: true}
  tracing: {otlp_endpoint: "http://127.0.0.1:4318", headers: {X-Token: abc}}
  access_log: {fields: [status, route]}
  request_id: {header: X-Trace}
consumers:
  - name: partner
    metadata: {tier: gold}
    api_keys: [{sha256: "${KEY_SHA}"}]
    basic_auth: [{username: ops, bcrypt: "${BCRYPT}"}]
    jwt: [{issuer: "https://auth", subject: svc-1}]
    mtls: [{san: partner.internal}]
`)
	out := string(config.Redact(src, filterConfig))
	for _, want := range []string{
		"username: gw", `address: "${REDIS_ADDR}"`, "password: '[redacted]'",
		"rules: [allow-all]", "memory: 16MiB", "prometheus: true", "X-Token: '[redacted]'",
		"fields: [status, route]", "header: X-Trace", "tier: gold", "sha256: '[redacted]'",
		"username: ops", "bcrypt: '[redacted]'", `issuer: "https://auth"`, "subject: svc-1",
		"san: partner.internal",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "REDIS_PASSWORD") || strings.Contains(out, "KEY_SHA") || strings.Contains(out, "BCRYPT") {
		t.Errorf("the view shows a secret field's reference:\n%s", out)
	}
	if strings.Count(out, "allow-all") != 1 {
		t.Errorf("config_visible must be a literal true to show a plugin's config:\n%s", out)
	}
}

// A chain entry's replacement block is a filter block: its secret fields
// are hidden as the filter's own are, the rest shown.
func TestRedactChainReplace(t *testing.T) {
	src := doc(`
routes:
  - name: r
    filters:
      - chain: { name: base, exclude: [cors], replace: { headers: { request: { set: { Authorization: "Bearer hunter2-LEAK" } } }, rate_limit: { rate: 500/s } } }
    upstream: u
`)
	out := string(config.Redact([]byte(src), filterConfig))
	if strings.Contains(out, "hunter2-LEAK") {
		t.Errorf("the replacement block's secret shows:\n%s", out)
	}
	for _, want := range []string{"base", "cors", "500/s", config.Redacted} {
		if !strings.Contains(out, want) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}
