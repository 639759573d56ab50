//go:build wasip1

package abi

import "unsafe"

// The host hands data to the guest by calling proxy_on_memory_allocate from
// inside a host call, writing into what it got, and returning the address.
// Go's collector is precise, so whatever we hand out must stay referenced
// until the host call returns and the wrapper picks it up: small blocks come
// from one reused scratch buffer (no allocation per header read), larger
// ones are pinned here until taken.

const scratchMax = 16 << 10

var (
	scratch     []byte
	scratchBusy bool
	pinned      [][]byte
)

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) uint32 {
	n := int(size)
	if n == 0 {
		n = 1 // a zero address reads as failure
	}
	if !scratchBusy && n <= scratchMax {
		if n > cap(scratch) {
			c := 512
			for c < n {
				c <<= 1
			}
			scratch = make([]byte, c)
		}
		scratchBusy = true
		return addr(scratch)
	}
	b := make([]byte, n)
	pinned = append(pinned, b)
	return addr(b)
}

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// release forgets every block handed out, and clears the return slots:
// a host answering an empty buffer leaves them untouched (as the reference
// host does), and stale ones would read as the previous call's data.
// Called before each host call that may allocate.
func release() {
	retData, retSize = 0, 0
	scratchBusy = false
	clear(pinned)
	pinned = pinned[:0]
}

// view returns what the host wrote at ptr; valid until the next release.
func view(ptr, size uint32) []byte {
	if size == 0 || ptr == 0 {
		return []byte{}
	}
	// Linear memory starts at address 0, so the address is an offset from nil.
	return unsafe.Slice((*byte)(unsafe.Add(nil, uintptr(ptr))), size)
}

// owned returns what the host wrote at ptr as a slice the caller may keep:
// the pinned block itself when the host used one, a copy otherwise.
func owned(ptr, size uint32) []byte {
	if size == 0 || ptr == 0 {
		return []byte{}
	}
	for i, p := range pinned {
		if addr(p) == ptr && int(size) <= len(p) {
			pinned[i] = nil
			return p[:size:size]
		}
	}
	b := make([]byte, size)
	copy(b, view(ptr, size))
	return b
}

func strPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }
func bytesPtr(b []byte) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(b))
}
