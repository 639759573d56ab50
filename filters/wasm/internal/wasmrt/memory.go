// Package wasmrt is the ABI-independent part of the Wasm host: the wazero
// runtime and its compilation cache, guest linear memory, the callback
// context and deadlines, how wazero's exit errors read, and the signature
// and header checks both ABIs make. The Proxy-Wasm host (filters/wasm) and
// the http-wasm host (internal/httpwasm) build on it; it knows neither ABI.
package wasmrt

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
)

// Guest linear memory. wazero grows a memory by appending the new pages
// (a zeroed temporary slice, copied in) and lets append re-allocate by
// a quarter at a time. A Go guest grows its memory many times in its first
// ~100k exchanges (3 to 7.5 MiB for plugins/add-header, a page or a few at
// a time), so each instance copied its whole memory several times while
// serving, with a temporary allocation per grow. LinearMemory doubles its
// capacity instead (bounded by the memory limit): growing within the
// capacity is free, since the bytes past the length are still the zeros
// make gave, and a memory reaches N bytes after at most log2(N/initial)
// copies. The memory stays an ordinary Go slice, so a host function that
// still holds a view of it after the instance closed reads stale bytes
// rather than unmapped ones.
type LinearMemory struct {
	buf []byte
	max uint64
}

// WithLinearMemory is the context for instantiating a guest: its memory
// is a LinearMemory.
func WithLinearMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(NewLinearMemory))
}

// NewLinearMemory is the allocator WithLinearMemory installs.
func NewLinearMemory(capacity, max uint64) experimental.LinearMemory {
	return &LinearMemory{buf: make([]byte, 0, min(capacity, max)), max: max}
}

// Reallocate implements experimental.LinearMemory: size is never below the
// current length (a Wasm memory only grows).
func (m *LinearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	c := min(max(size, 2*uint64(cap(m.buf))), m.max)
	b := make([]byte, size, c)
	copy(b, m.buf)
	m.buf = b
	return b
}

// Free implements experimental.LinearMemory; the collector frees the bytes.
func (m *LinearMemory) Free() { m.buf = nil }
