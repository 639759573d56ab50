package wasmrt

import (
	"os"
	"runtime"
	"sync"

	"github.com/tetratelabs/wazero"
)

// compilationCaches holds one wazero cache per directory for the whole
// process, so every plugin, reload and test shares compiled code.
var compilationCaches = struct {
	sync.Mutex
	m map[string]wazero.CompilationCache
}{m: map[string]wazero.CompilationCache{}}

// CacheDir is the compilation cache directory an empty directory option
// stands for: $WASMGATE_CACHE_DIR, else os.UserCacheDir()/wasmgate/wazero,
// "off" when there is none.
func CacheDir() string {
	if d := os.Getenv("WASMGATE_CACHE_DIR"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "off"
	}
	return base + string(os.PathSeparator) + "wasmgate" + string(os.PathSeparator) + "wazero"
}

// CacheDirName is the compilation cache directory an option dir means.
func CacheDirName(dir string) string {
	if dir == "" {
		return CacheDir()
	}
	return dir
}

// CompilationCache returns the process's cache for dir ("" for CacheDir,
// "off" for memory only). When the directory cannot be used it returns the
// in-memory cache and the reason.
func CompilationCache(dir string) (wazero.CompilationCache, error) {
	if dir == "" {
		dir = CacheDir()
	}
	compilationCaches.Lock()
	defer compilationCaches.Unlock()
	if c, ok := compilationCaches.m[dir]; ok {
		return c, nil
	}
	var err error
	var c wazero.CompilationCache
	if dir != "off" {
		c, err = wazero.NewCompilationCacheWithDir(dir)
	}
	if c == nil {
		if mem, ok := compilationCaches.m["off"]; ok {
			return mem, err
		}
		c = wazero.NewCompilationCache()
		dir = "off"
	}
	compilationCaches.m[dir] = c
	return c, err
}

// CompilerSupported reports whether wazero's compiler runs here; elsewhere
// the interpreter does.
func CompilerSupported() bool {
	return runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"
}
