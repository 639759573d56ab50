// Package testutil builds filters from YAML the way the gateway does
// (decode, validate, build), for the auth and access filters' tests.
package testutil

import (
	"io"
	"log/slog"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Build decodes block as the config of the filter registered under name,
// validates and builds it against a config whose consumers section is
// consumersYAML ("" for none). Consumers are validated as the loader does,
// so clear API keys are hashed.
func Build(t testing.TB, name, block, consumersYAML string) (filter.Filter, error) {
	t.Helper()
	src := "listeners: [{address: \"127.0.0.1:0\"}]\n"
	if consumersYAML != "" {
		src += "consumers: " + consumersYAML + "\n"
	}
	cfg, err := config.Parse("", []byte(src))
	if err != nil {
		return nil, err
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(block), &node); err != nil {
		t.Fatal(err)
	}
	fc, ok := filter.Lookup(name)
	if !ok {
		t.Fatalf("filter %q is not registered", name)
	}
	if err := config.Decode("", &node, name, fc); err != nil {
		return nil, err
	}
	if v, ok := fc.(filter.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	var mu sync.Mutex
	kept := map[string]io.Closer{}
	t.Cleanup(func() {
		for _, v := range kept {
			_ = v.Close()
		}
	})
	return fc.Build(&filter.BuildContext{
		Route:  "r",
		Logger: slog.New(slog.DiscardHandler),
		Config: cfg,
		Keep: func(key string, create func() (io.Closer, error)) (io.Closer, error) {
			mu.Lock()
			defer mu.Unlock()
			if v, ok := kept[key]; ok {
				return v, nil
			}
			v, err := create()
			if err == nil {
				kept[key] = v
			}
			return v, err
		},
	})
}

// MustBuild is Build that fails the test on an error.
func MustBuild(t testing.TB, name, block, consumersYAML string) filter.Filter {
	t.Helper()
	f, err := Build(t, name, block, consumersYAML)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
