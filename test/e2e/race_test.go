//go:build race

package e2e

// raceEnabled: under `go test -race` the wasmgate binary is built with the
// race detector too, so the end-to-end traffic checks the gateway for races.
const raceEnabled = true
