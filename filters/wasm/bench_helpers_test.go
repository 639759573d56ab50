package wasm

import (
	"context"

	"github.com/tetratelabs/wazero"
)

func newDirCache(dir string) (wazero.CompilationCache, error) {
	return wazero.NewCompilationCacheWithDir(dir)
}

func newBenchRuntime(ctx context.Context, cache wazero.CompilationCache) wazero.Runtime {
	return wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true).WithCompilationCache(cache))
}
