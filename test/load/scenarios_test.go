//go:build linux

package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wasmgate/wasmgate/core/gateway"
	_ "github.com/wasmgate/wasmgate/filters/all"
)

func TestParseScenarios(t *testing.T) {
	got, err := parseScenarios("wasm-go, jwt")
	if err != nil || !slices.Equal(got, []string{"plain", "jwt", "wasm-go"}) {
		t.Errorf("parseScenarios(wasm-go, jwt) = %v, %v; want plain first, report order", got, err)
	}
	if got, err := parseScenarios("all"); err != nil || !slices.Equal(got, scenarioNames) {
		t.Errorf("all = %v, %v", got, err)
	}
	if _, err := parseScenarios("jwt,nope"); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}

// The scenarios config, rendered as the tool renders it into a temporary
// directory, is a valid gateway config there: every file it names is found
// (relative paths in a config resolve against its own directory, not the
// tool's working directory).
func TestScenariosConfigValidates(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	tmpl, err := os.ReadFile(scenarioConfig)
	if err != nil {
		t.Fatal(err)
	}
	path, err := writeConfig(t.TempDir(), string(tmpl), "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.Validate(gateway.Source{File: path}, slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("the rendered scenarios config is invalid:\n%v", err)
	}
}
