package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/httpwasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

func init() {
	filter.Register("wasm", func() filter.Config { return new(Config) })
}

// Config is the `wasm:` entry of a route's filters: `- wasm: NAME` or
// `- wasm: { plugin: NAME }`, naming a module declared under `plugins:`.
type Config struct {
	Plugin string `yaml:"plugin"`
}

// UnmarshalNode accepts the short form (a name) and the long one (a map).
func (c *Config) UnmarshalNode(n *yaml.Node) error {
	const want = `expected a plugin name ("- wasm: my-plugin") or {plugin: my-plugin}`
	switch n.Kind {
	case yaml.ScalarNode:
		c.Plugin = n.Value
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != "plugin" {
				return config.FieldErr(k.Value, "unknown field; valid: plugin")
			}
			if v.Kind != yaml.ScalarNode {
				return config.FieldErr("plugin", "%s", want)
			}
			c.Plugin = v.Value
		}
		return nil
	}
	return fmt.Errorf("%s", want)
}

// JSONSchema: the short form or the long one.
func (*Config) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string", "description": "A plugin declared under plugins:."},
		map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"plugin": map[string]any{"type": "string", "description": "A plugin declared under plugins:."}},
			"additionalProperties": false,
		},
	}}
}

// Validate checks the entry names a plugin; Build checks it exists.
func (c *Config) Validate() error {
	if c.Plugin == "" {
		return config.FieldErr("", "a plugin name is required, e.g. - wasm: my-plugin (declared under plugins:)")
	}
	return nil
}

// Build loads the plugin, or reuses it from a previous snapshot when its
// module bytes and options are unchanged (BuildContext.Keep). A change of
// `config:` alone keeps it too: the kept module gets a new root context
// for the new configuration (roots.go), itself a kept value, so the old
// one is retired once no snapshot uses it.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	plugins := PluginsOf(bc.Config)
	pc := plugins[c.Plugin]
	if pc == nil {
		names := slices.Sorted(maps.Keys(plugins))
		valid := "none are declared under plugins:"
		if len(names) > 0 {
			valid = strings.Join(names, ", ")
		}
		return nil, config.FieldErr("", "unknown plugin %q; valid plugins: %s%s", c.Plugin, valid, config.DidYouMean(c.Plugin, names))
	}
	// From here on, what goes wrong is the plugin's, whichever route names
	// it: placed at its plugins: entry, it is reported once, where it is
	// fixed, not at every route's "- wasm:" line.
	entry := config.JoinKey("plugins", c.Plugin)
	opts, err := OptionsFrom(c.Plugin, pc)
	if err != nil {
		return nil, bc.Config.Resolve(entry, err)
	}
	// The plugin is shared by every route naming it (and kept across
	// reloads): its logger carries no route; lines of an exchange add it.
	opts.Logger = bc.BaseLogger
	if opts.Logger == nil {
		opts.Logger = bc.Logger
	}
	if err := hostOptions(bc, pc, &opts); err != nil { // callouts.go: upstreams, Redis
		return nil, bc.Config.Resolve(entry, err)
	}
	code, err := os.ReadFile(pc.Source)
	if err != nil {
		return nil, bc.Config.Resolve(entry+".source", fmt.Errorf("cannot read the plugin's module: %w", err))
	}
	load := func() (io.Closer, error) { return LoadBytes(context.Background(), code, opts) }
	key := newPoolKey(c.Plugin, code, opts)
	closer, err := bc.Keep(key, load)
	if err != nil {
		return nil, bc.Config.Resolve(entry, fmt.Errorf("plugin %s: %w", c.Plugin, err))
	}
	p := closer.(*Plugin)
	r, err := bc.Keep(rootKey{module: key, config: sha256.Sum256(opts.Config)}, func() (io.Closer, error) {
		return p.rootFor(opts.Config)
	})
	if err != nil {
		return nil, bc.Config.Resolve(entry+".config", fmt.Errorf("plugin %s: %w", c.Plugin, err))
	}
	f := p.NewFilter()
	f.root = r.(*root)
	f.metrics = newPhaseMetrics(bc, c.Plugin)
	f.holdTimeouts = bc.Counter(holdTimeoutsMetric, filter.Label{Key: "plugin", Value: c.Plugin})
	return f, nil
}

// poolKey identifies a module with its options but the plugin
// configuration: a reload that changes none of them keeps the plugin and
// its warm instances. An http-wasm guest reads its configuration while it
// initializes, so there the configuration is part of the key.
type poolKey struct {
	plugin string
	sum    [sha256.Size]byte // of the module bytes and the options
}

// rootKey identifies one configuration of a kept module: its root context.
type rootKey struct {
	module poolKey
	config [sha256.Size]byte
}

func newPoolKey(name string, code []byte, o Options) poolKey {
	h := sha256.New()
	h.Write(code)
	o.Logger = nil
	if hw, _ := wasmrt.ImportsModule(code, httpwasm.Module); !hw {
		o.Config = nil // a new root context per configuration (roots.go)
	}
	meta, _ := json.Marshal(o)
	h.Write(meta)
	k := poolKey{plugin: name}
	h.Sum(k.sum[:0])
	return k
}

// OptionsFrom converts a `plugins:` entry (defaults applied by the config
// loader) into Options. The config blocks become bytes: a YAML string as
// is, anything else as compact JSON.
func OptionsFrom(name string, pc *PluginConfig) (Options, error) {
	cfg, err := configBytes(pc.Config)
	if err != nil {
		return Options{}, config.FieldErr("config", "%v", err)
	}
	vm, err := configBytes(pc.VMConfig)
	if err != nil {
		return Options{}, config.FieldErr("vm_config", "%v", err)
	}
	o := Options{
		Name:                 name,
		Config:               cfg,
		VMConfig:             vm,
		MemoryLimit:          int64(pc.Limits.Memory),
		Timeout:              pc.Limits.Timeout.D(),
		StartTimeout:         pc.Limits.StartTimeout.D(),
		Instances:            pc.Limits.Instances,
		MaxBody:              int64(pc.Limits.MaxBody),
		HoldTimeout:          pc.Limits.Hold.D(),
		FailOpen:             pc.FailurePolicy == "fail_open",
		NoCloseOnContextDone: pc.CloseOnContextDone != nil && !*pc.CloseOnContextDone,
		VMID:                 pc.VMID,
		RootID:               pc.RootID,
		CalloutLimit:         pc.Limits.Callouts,
		CalloutTimeout:       pc.Limits.CalloutTimeout.D(),
		SharedDataLimit:      int64(pc.Limits.SharedData),
	}
	for _, b := range pc.Bodies {
		switch b {
		case "request":
			o.RequestBody = true
		case "response":
			o.ResponseBody = true
		}
	}
	return o, nil
}

// configBytes renders a config node for the guest.
func configBytes(n *yaml.Node) ([]byte, error) {
	if n == nil {
		return nil, nil
	}
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Tag == "") && n.Value == "" {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return []byte(n.Value), nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot be passed to the plugin as JSON: %v (map keys must be strings)", err)
	}
	return b, nil
}

var (
	_ filter.Config          = (*Config)(nil)
	_ filter.Validator       = (*Config)(nil)
	_ config.NodeUnmarshaler = (*Config)(nil)
)
