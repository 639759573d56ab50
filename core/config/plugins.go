package config

import "gopkg.in/yaml.v3"

// Plugin is a WebAssembly filter module, declared once and used by routes
// with `- wasm: NAME`. filters/wasm documents every field.
type Plugin struct {
	Source string `yaml:"source"` // path to the .wasm file
	// Config is handed to the plugin (proxy_on_configure): a YAML string
	// byte for byte, anything else as compact JSON.
	Config *yaml.Node `yaml:"config"`
	// VMConfig is handed to proxy_on_vm_start, with the same rules.
	VMConfig *yaml.Node `yaml:"vm_config"`
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
}

// PluginLimits are a plugin's sandbox limits.
type PluginLimits struct {
	Memory       Size     `yaml:"memory"`        // linear memory cap, default 64MiB
	Timeout      Duration `yaml:"timeout"`       // per callback, default 100ms
	StartTimeout Duration `yaml:"start_timeout"` // instantiation and configuration, default 10s
	Instances    int      `yaml:"instances"`     // instance pool bound, default GOMAXPROCS (0)
	MaxBody      Size     `yaml:"max_body"`      // buffered body cap, default 1MiB
}
