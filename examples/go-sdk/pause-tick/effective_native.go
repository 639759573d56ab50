//go:build !wasip1

package main

// Outside Wasm (go vet, unit builds) there is no host to switch contexts.
func proxySetEffectiveContext(uint32) uint32 { return 12 /* UNIMPLEMENTED */ }
