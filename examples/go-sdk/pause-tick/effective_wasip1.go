//go:build wasip1

package main

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(contextID uint32) uint32
