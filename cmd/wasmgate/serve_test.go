package main

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestGCTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "50") // restored after the test
	os.Unsetenv("GOGC")
	setGCTarget()
	if got := debug.SetGCPercent(100); got != servingGCPercent {
		t.Errorf("GC target %d without GOGC, want %d", got, servingGCPercent)
	}

	t.Setenv("GOGC", "50")
	setGCTarget()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC target %d with GOGC set, want the runtime's own (100 here)", got)
	}
}
