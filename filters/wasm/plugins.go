package wasm

import (
	"maps"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

// The `plugins:` section: WebAssembly modules, declared once and used by
// routes with `- wasm: NAME`. README.md documents every field.

func init() {
	config.RegisterSection("plugins", pluginDefaults, checkPlugins)
	// A rebuilt module reloads the config as an edit of it would: the
	// config watch hashes these files too.
	config.RegisterFiles(func(c *config.Config) []string {
		var files []string
		for _, name := range slices.Sorted(maps.Keys(PluginsOf(c))) {
			if src := PluginsOf(c)[name].Source; src != "" {
				files = append(files, src)
			}
		}
		return files
	})
}

// Plugins is the `plugins:` section, by plugin name.
type Plugins map[string]*PluginConfig

// PluginsOf returns cfg's plugins section (nil when it declares none).
func PluginsOf(cfg *config.Config) Plugins {
	if p := config.Section[Plugins](cfg, "plugins"); p != nil {
		return *p
	}
	return nil
}

// PluginConfig is one entry of `plugins:`.
type PluginConfig struct {
	Source string `yaml:"source" path:"file"` // path to the .wasm file
	// Config is handed to the plugin (proxy_on_configure): a YAML string
	// byte for byte, anything else as compact JSON. The admin API hides it
	// (it often holds the plugin's credentials) unless ConfigVisible.
	Config *yaml.Node `yaml:"config" redact:"secret,unless=config_visible"`
	// VMConfig is handed to proxy_on_vm_start, with the same rules.
	VMConfig *yaml.Node `yaml:"vm_config" redact:"secret,unless=config_visible"`
	// ConfigVisible shows config and vm_config in GET /config, for plugins
	// whose config holds no secret. Written as a literal true only.
	ConfigVisible bool `yaml:"config_visible"`
	// Bodies lists the bodies the plugin must see whole: request, response.
	// Only routes using such a plugin buffer, up to Limits.MaxBody.
	Bodies []string     `yaml:"bodies"`
	Limits PluginLimits `yaml:"limits"`
	// FailurePolicy decides what a trap or deadline does to the exchange:
	// fail_closed (default: 503) or fail_open (continue without the plugin).
	FailurePolicy string `yaml:"failure_policy"`
	// CloseOnContextDone lets a callback deadline stop a running guest
	// (default true); off, a runaway guest cannot be stopped but each
	// callback is cheaper.
	CloseOnContextDone *bool `yaml:"close_on_context_done"`
	// Callouts names the upstreams the plugin may call with proxy_http_call
	// (the spec's "cluster" argument); any other name is refused.
	Callouts []string `yaml:"callouts"`
	// VMID groups plugins that share data and queues (the Proxy-Wasm vm_id);
	// default: the plugin's name.
	VMID string `yaml:"vm_id"`
	// RootID is the plugin_root_id property: SDKs that register several
	// root contexts (the AssemblyScript one) pick theirs by it. Default "".
	RootID string `yaml:"root_id"`
	// SharedData is where proxy_get/set_shared_data live: memory (default,
	// this process) or redis (stores.redis, shared by every gateway).
	SharedData string `yaml:"shared_data"`
}

// PluginLimits are a plugin's sandbox limits.
type PluginLimits struct {
	Memory       config.Size     `yaml:"memory"`        // linear memory cap, default 64MiB
	Timeout      config.Duration `yaml:"timeout"`       // per callback, default 100ms
	StartTimeout config.Duration `yaml:"start_timeout"` // instantiation and configuration, default 10s
	Instances    int             `yaml:"instances"`     // instance pool bound, default GOMAXPROCS (0)
	MaxBody      config.Size     `yaml:"max_body"`      // buffered body cap, default 1MiB
	// Hold bounds how long a stream the plugin paused waits to be resumed
	// (default 30s); then the failure policy applies.
	Hold config.Duration `yaml:"hold"`
	// Callouts caps the plugin's concurrent proxy_http_call requests
	// (default 64); more wait for a slot within their timeout.
	Callouts int `yaml:"callouts"`
	// CalloutTimeout bounds each callout, whatever the guest asks (default 5s).
	CalloutTimeout config.Duration `yaml:"callout_timeout"`
	// SharedData bounds the shared data of the plugin's vm_id: keys plus
	// values, in memory; per value with Redis (default 1MiB).
	SharedData config.Size `yaml:"shared_data"`
}

// maxPluginMemory is the 32-bit address space.
const maxPluginMemory = 4 << 30

// pluginDefaults fills each plugin's unset fields with the defaults Options
// has (plugin.go, hoststate.go), so that GET /config and a plugin loaded
// with Load agree. Instances stays 0 when unset: the pool is sized from
// GOMAXPROCS.
func pluginDefaults(ps *Plugins) {
	for name, p := range *ps {
		if p == nil { // "name:" with nothing under it; the check says what is missing
			p = &PluginConfig{}
			(*ps)[name] = p
		}
		l := &p.Limits
		setSize(&l.Memory, defaultMemory)
		setDuration(&l.Timeout, defaultTimeout)
		setDuration(&l.StartTimeout, defaultStartTimeout)
		setSize(&l.MaxBody, defaultMaxBody)
		setDuration(&l.Hold, defaultHoldTimeout)
		setDuration(&l.CalloutTimeout, defaultCalloutTimeout)
		setSize(&l.SharedData, defaultSharedData)
		if l.Callouts == 0 {
			l.Callouts = defaultCalloutLimit
		}
		if p.FailurePolicy == "" {
			p.FailurePolicy = "fail_closed"
		}
		if p.SharedData == "" {
			p.SharedData = "memory"
		}
		if p.CloseOnContextDone == nil {
			on := true
			p.CloseOnContextDone = &on
		}
	}
}

func setSize(p *config.Size, v int64) {
	if *p == 0 {
		*p = config.Size(v)
	}
}

func setDuration(p *config.Duration, d time.Duration) {
	if *p == 0 {
		*p = config.Duration(d)
	}
}

func checkPlugins(v *config.Validator, ps *Plugins) {
	for _, name := range slices.Sorted(maps.Keys(*ps)) {
		p := config.JoinKey("plugins", name)
		v.Name(p, "plugin", name)
		pl := (*ps)[name]
		if pl.Source == "" {
			v.Errorf(p+".source", "required: the path of the plugin's .wasm file, e.g. source: plugins/check.wasm")
		}
		switch m := int64(pl.Limits.Memory); {
		case m < pageSize:
			v.Errorf(p+".limits.memory", "%d bytes is less than one 64KiB Wasm page; e.g. memory: 16MiB (Go guests need at least 4MiB)", m)
		case m > maxPluginMemory:
			v.Errorf(p+".limits.memory", "%d bytes is more than a 32-bit Wasm memory can address; the maximum is 4GiB", m)
		}
		v.NotNegative(p+".limits.instances", pl.Limits.Instances)
		v.OneOf(p+".failure_policy", pl.FailurePolicy, failurePolicies...)
		v.NotNegative(p+".limits.callouts", pl.Limits.Callouts)
		v.OneOf(p+".shared_data", pl.SharedData, sharedDataStores...)
		if pl.SharedData == "redis" && stores.RedisOf(v.Config()) == nil {
			v.Errorf(p+".shared_data", `shared_data: redis needs a Redis server in the config: stores: {redis: {address: "127.0.0.1:6379"}}`)
		}
		for i, u := range pl.Callouts {
			v.Upstream(config.JoinIndex(p+".callouts", i), u)
		}
		seen := map[string]bool{}
		for i, b := range pl.Bodies {
			f := config.JoinIndex(p+".bodies", i)
			v.OneOf(f, b, pluginBodies...)
			if seen[b] {
				v.Errorf(f, "%q is listed twice", b)
			}
			seen[b] = true
		}
	}
}

// The enumerated fields of a plugin, checked with OneOf and listed in the
// JSON Schema.
var (
	failurePolicies  = []string{"fail_closed", "fail_open"}
	sharedDataStores = []string{"memory", "redis"}
	pluginBodies     = []string{"request", "response"}
)

func (*PluginConfig) EnumFields() map[string][]string {
	return map[string][]string{"failure_policy": failurePolicies, "shared_data": sharedDataStores, "bodies": pluginBodies}
}
