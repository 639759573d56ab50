package main

import (
	"slices"
	"testing"
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
