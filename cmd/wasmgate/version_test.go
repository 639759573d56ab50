package main

import (
	"strings"
	"testing"
)

// An operator types --version as often as version: both print the same.
func TestVersionFlagPrintsWhatVersionPrints(t *testing.T) {
	cmd, _, err := runCLI(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	flag, _, err := runCLI(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cmd, "wasmgate ") || !strings.Contains(cmd, "wazero:") {
		t.Fatalf("version printed %q", cmd)
	}
	if flag != cmd {
		t.Fatalf("--version printed %q, version printed %q", flag, cmd)
	}
}
