package wasm

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// ModuleInfo describes a module for `wasmgate plugin inspect`.
type ModuleInfo struct {
	ABI      string   // the Proxy-Wasm version marker exported, or ""
	Imports  []Import // in declaration order
	Exports  []string // function exports with their signatures, sorted
	MemoryKB uint32   // initial linear memory
	MaxKB    uint32   // declared maximum, 0 if none
	Problem  error    // why Load would refuse it, or nil
}

// Import is one imported function and how the host answers it.
type Import struct {
	Module, Name, Signature string
	Provided                bool // false: the host answers UNIMPLEMENTED or ENOSYS
}

// Inspect compiles a module (without instantiating it) and describes it.
func Inspect(ctx context.Context, code []byte) (*ModuleInfo, error) {
	cache, _ := wasmrt.CompilationCache("off")
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	m, err := rt.CompileModule(ctx, code)
	if err != nil {
		return nil, err
	}
	info := &ModuleInfo{Problem: validateModule(m)}
	exports := m.ExportedFunctions()
	for _, name := range proxywasm.ABIMarkers {
		if _, ok := exports[name]; ok {
			info.ABI = strings.ReplaceAll(strings.TrimPrefix(name, "proxy_abi_version_"), "_", ".")
		}
	}
	for name, f := range exports {
		info.Exports = append(info.Exports, name+signature(f))
	}
	sort.Strings(info.Exports)
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		impls := envFuncs
		if mod != "env" {
			impls = wasiFuncs
		}
		h, ok := impls[name]
		info.Imports = append(info.Imports, Import{
			Module: mod, Name: name, Signature: signature(f),
			Provided: ok && proxywasm.AllowedImports[mod] && wasmrt.SigMatches(f.ParamTypes(), h.params) && wasmrt.SigMatches(f.ResultTypes(), h.results),
		})
	}
	for _, mem := range m.ExportedMemories() {
		info.MemoryKB = mem.Min() * 64
		if max, ok := mem.Max(); ok {
			info.MaxKB = max * 64
		}
	}
	return info, nil
}

func signature(f api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	sig := fmt.Sprintf("(%s)", names(f.ParamTypes()))
	if len(f.ResultTypes()) > 0 {
		sig += " -> " + names(f.ResultTypes())
	}
	return sig
}
