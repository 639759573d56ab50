package config

import "go.yaml.in/yaml/v3"

// Plugin is a WebAssembly filter module, declared once and used by routes
// with `- wasm: NAME`. filters/wasm documents every field.
type Plugin struct {
	Source string `yaml:"source"` // path to the .wasm file
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
	Memory       Size     `yaml:"memory"`        // linear memory cap, default 64MiB
	Timeout      Duration `yaml:"timeout"`       // per callback, default 100ms
	StartTimeout Duration `yaml:"start_timeout"` // instantiation and configuration, default 10s
	Instances    int      `yaml:"instances"`     // instance pool bound, default GOMAXPROCS (0)
	MaxBody      Size     `yaml:"max_body"`      // buffered body cap, default 1MiB
	// Callouts caps the plugin's concurrent proxy_http_call requests
	// (default 64); more wait for a slot within their timeout.
	Callouts int `yaml:"callouts"`
	// CalloutTimeout bounds each callout, whatever the guest asks (default 5s).
	CalloutTimeout Duration `yaml:"callout_timeout"`
	// SharedData bounds the shared data of the plugin's vm_id: keys plus
	// values, in memory; per value with Redis (default 1MiB).
	SharedData Size `yaml:"shared_data"`
}
