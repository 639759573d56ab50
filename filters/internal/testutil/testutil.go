// Package testutil builds filters from YAML the way the gateway does
// (decode, validate, build), for the auth and access filters' tests.
package testutil

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/observe"
)

// Build decodes block as the config of the filter registered under name,
// validates and builds it against a config whose consumers section is
// consumersYAML ("" for none). Consumers are validated as the loader does,
// so clear API keys are hashed.
func Build(t testing.TB, name, block, consumersYAML string) (filter.Filter, error) {
	t.Helper()
	f, _, err := build(t, name, block, consumersYAML, false)
	return f, err
}

// BuildWithMetrics is MustBuild with the gateway's metrics on; scrape
// returns the Prometheus text the admin listener would serve.
func BuildWithMetrics(t testing.TB, name, block, consumersYAML string) (f filter.Filter, scrape func() string) {
	t.Helper()
	f, bc, err := build(t, name, block, consumersYAML, true)
	if err != nil {
		t.Fatal(err)
	}
	return f, func() string {
		w := httptest.NewRecorder()
		observe.From(bc).Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		return w.Body.String()
	}
}

func build(t testing.TB, name, block, consumersYAML string, metrics bool) (filter.Filter, *filter.BuildContext, error) {
	t.Helper()
	src := "listeners: [{address: \"127.0.0.1:0\"}]\n"
	if consumersYAML != "" {
		src += "consumers: " + consumersYAML + "\n"
	}
	if metrics {
		src += "observability: {metrics: {prometheus: true}}\n"
	}
	cfg, err := config.Parse("", []byte(src))
	if err != nil {
		return nil, nil, err
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
		return nil, nil, err
	}
	if v, ok := fc.(filter.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, nil, err
		}
	}
	bc := &filter.BuildContext{
		Route:  "r",
		Logger: slog.New(slog.DiscardHandler),
		Config: cfg,
		Keeper: NewKeeper(t),
		Meter:  Meters,
	}
	if metrics {
		if m := observe.From(bc); m != nil {
			bc.Meter = m // as the gateway does: the filter's counters are scraped
		}
	}
	f, err := fc.Build(bc)
	return f, bc, err
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

// HasSamples fails the test for each Prometheus sample line missing from
// the scraped text (a whole line: name{labels} value).
func HasSamples(t testing.TB, scraped string, samples ...string) {
	t.Helper()
	for _, s := range samples {
		if !strings.Contains(scraped, s+"\n") {
			t.Errorf("no %s in the metrics", s)
		}
	}
}

// Keeper is a filter.Keeper for tests: a value lives until the test ends,
// so builds that share it see one another's kept state, as across a reload.
type Keeper struct {
	mu   sync.Mutex
	vals map[any]io.Closer
}

// NewKeeper returns a Keeper whose values are closed when the test ends.
func NewKeeper(t testing.TB) *Keeper {
	k := &Keeper{vals: map[any]io.Closer{}}
	t.Cleanup(func() {
		for _, v := range k.vals {
			_ = v.Close()
		}
	})
	return k
}

// Keep implements filter.Keeper.
func (k *Keeper) Keep(key any, create func() (io.Closer, error)) (io.Closer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.vals[key]; ok {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	k.vals[key] = v
	return v, nil
}
