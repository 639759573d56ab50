//go:build race

package hardening

// raceEnabled: under -race the binary is built with the race detector too.
const raceEnabled = true
