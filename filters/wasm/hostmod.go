package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/httpwasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// instantiateHostModules provides, in the plugin's runtime, exactly the
// functions the module imports from env and the two WASI modules: ours
// where the signature matches, else a stub answering UNIMPLEMENTED (env)
// or ENOSYS (WASI). So no module fails to link over a function we do not
// offer yet, and a wrong signature can never reach our implementation.
func (p *Plugin) instantiateHostModules(ctx context.Context) error {
	byModule := map[string][]api.FunctionDefinition{}
	for _, f := range p.compiled.ImportedFunctions() {
		mod, _, _ := f.Import()
		byModule[mod] = append(byModule[mod], f)
	}
	for mod, imports := range byModule {
		if mod == wasmrt.InterruptModule { // the deadline check: wasmrt.InstantiateInterrupt
			continue
		}
		impls, stub := envFuncs, uint64(proxywasm.StatusUnimplemented)
		if mod != "env" {
			impls, stub = wasiFuncs, errnoNosys
		}
		b := p.rt.NewHostModuleBuilder(mod)
		seen := map[string]bool{}
		for _, f := range imports {
			_, name, _ := f.Import()
			if seen[name] {
				continue
			}
			seen[name] = true
			params, results := f.ParamTypes(), f.ResultTypes()
			var fn api.GoModuleFunc
			if mod == httpwasm.Module {
				fn = httpwasm.Func(name, params, results, hwHostOf)
			} else if h, ok := impls[name]; ok && wasmrt.SigMatches(params, h.params) && wasmrt.SigMatches(results, h.results) {
				fn = wrapHost(h)
			} else {
				fn = stubHost(stub, len(results))
			}
			b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("providing host module %s: %w", mod, err)
		}
	}
	return nil
}

// wrapHost adapts a hostFunc to wazero. A host function called outside a
// plugin's instance context (cannot happen) answers INTERNAL_FAILURE.
func wrapHost(h hostFunc) api.GoModuleFunc {
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		in := instanceOf(ctx)
		st := proxywasm.StatusInternalFailure
		if in != nil {
			st = h.fn(ctx, in, mod.Memory(), stack)
		}
		if h.results != "" {
			stack[0] = uint64(st)
		}
	}
}

func stubHost(result uint64, results int) api.GoModuleFunc {
	return func(_ context.Context, _ api.Module, stack []uint64) {
		for i := 0; i < results; i++ {
			stack[i] = 0
		}
		if results > 0 {
			stack[0] = result
		}
	}
}
