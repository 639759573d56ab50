package config

import "gopkg.in/yaml.v3"

// Plugin is a WebAssembly filter module, declared once and used by routes
// with `- wasm: NAME`.
type Plugin struct {
	Source string `yaml:"source"` // path to the .wasm file
	// Config is handed to the plugin (proxy_on_configure): a YAML string
	// byte for byte, anything else as compact JSON.
	Config *yaml.Node `yaml:"config"`
}
