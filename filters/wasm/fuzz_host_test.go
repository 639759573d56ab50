package wasm

import (
	"context"
	"sort"
	"testing"
)

// FuzzHostFunctions calls every Proxy-Wasm and WASI host function with
// arbitrary guest pointers and lengths, on an instance whose linear memory
// holds arbitrary bytes. A host function must answer with a status, never
// panic (a panic in a host function would take the gateway's request
// goroutine with it) and never write outside the guest's memory.
func FuzzHostFunctions(f *testing.F) {
	opts, _ := testOptions(f, "fuzz")
	p := load(f, "hostfeat", opts)
	in, err := p.newInstance(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	names := make([]string, 0, len(envFuncs)+len(wasiFuncs))
	funcs := map[string]hostFunc{}
	for n, h := range envFuncs {
		names = append(names, n)
		funcs[n] = h
	}
	for n, h := range wasiFuncs {
		if n == "proc_exit" {
			continue // unwinds the guest by design (wazero's sys.ExitError panic)
		}
		names = append(names, "wasi:"+n)
		funcs["wasi:"+n] = h
	}
	sort.Strings(names)
	memSize := uint64(in.mem.Size())
	for i := range names {
		f.Add(uint8(i), uint64(0), uint64(16), uint64(1024), uint64(8), uint64(2048), []byte("key\x00value"))
		f.Add(uint8(i), memSize-4, uint64(8), memSize, uint64(0xffffffff), uint64(1<<32-1), []byte{})
		f.Add(uint8(i), uint64(1<<31), uint64(1<<31), uint64(4), uint64(4), uint64(4), []byte{0xff, 0xff, 0xff, 0xff})
	}
	f.Fuzz(func(t *testing.T, which uint8, a0, a1, a2, a3, a4 uint64, data []byte) {
		name := names[int(which)%len(names)]
		h := funcs[name]
		// Plant the data where the small pointers point.
		if len(data) > 4096 {
			data = data[:4096]
		}
		in.mem.Write(1024, data)
		// wazero sizes the stack to the signature; arguments past five
		// repeat the fuzzed ones.
		args := [5]uint64{a0, a1, a2, a3, a4}
		stack := make([]uint64, max(len(h.params), len(h.results), 1))
		for i := range stack {
			if i < len(h.params) && h.params[i] == 'i' {
				stack[i] = uint64(uint32(args[i%5])) // an i32 arrives zero-extended
			} else {
				stack[i] = args[i%5]
			}
		}
		ctx := context.WithValue(context.Background(), instKey{}, in)
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s(%#x, %#x, %#x, %#x, %#x) panicked: %v", name, a0, a1, a2, a3, a4, r)
			}
		}()
		h.fn(ctx, in, in.mem, stack)
		if got := uint64(in.mem.Size()); got < memSize {
			t.Fatalf("%s shrank guest memory", name)
		}
	})
}
