//go:build race

package gatewaytest

// raceEnabled: under `go test -race` the wasmgate binary is built with the
// race detector too, so the traffic of the tests checks the gateway for races.
const raceEnabled = true
