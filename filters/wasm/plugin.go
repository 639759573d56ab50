// Package wasm hosts sandboxed WebAssembly filters speaking the Proxy-Wasm
// ABI (0.2.x) on wazero: module loading and validation, a compilation cache
// on disk, bounded instance pools kept across reloads, the host functions,
// a WASI subset, sandbox limits and failure policies. The route filter is
// `- wasm: NAME` referencing `plugins.NAME`; Load and Plugin.Exchange run a
// module outside a route (the plugin test command, the SDK's test helper).
//
// Rooms: internal/wasmrt holds what no ABI owns (compile and cache, the
// instance pool, deadlines, linear memory, the WASI subset, signature and
// header checks); internal/instrument rewrites modules for deadlines;
// internal/proxywasm is the Proxy-Wasm ABI host (its env functions reach
// an instance through proxywasm.Host, implemented in proxywasm.go here)
// and internal/httpwasm the http-wasm one (httpwasm.Host, httpwasm.go);
// guestmetric names guest metrics; this package holds the API, the route
// filter, the instance and its callbacks, root contexts, holds, callout
// dispatch and ticks, and each ABI's glue (README.md, "Layout").
package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/internal/stores"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/httpwasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// Options configure one plugin. The zero value of every field means its
// default, so Options{Name: "x"} is a valid configuration.
type Options struct {
	Name     string // used in logs, errors and the plugin_name property
	RootID   string // the plugin_root_id property (default "")
	Config   []byte // buffer 7, read by the guest in proxy_on_configure
	VMConfig []byte // buffer 6, read by the guest in proxy_on_vm_start

	MemoryLimit  int64         // linear memory cap in bytes, rounded up to 64KiB pages (default 64MiB)
	Timeout      time.Duration // deadline per callback (default 100ms)
	StartTimeout time.Duration // deadline for instantiation and configuration (default 10s)
	Instances    int           // instance pool bound (default GOMAXPROCS)
	MaxBody      int64         // buffered body cap (default 1MiB)
	HoldTimeout  time.Duration // how long a paused stream is held (default 30s; body.go)

	RequestBody  bool // the plugin sees the whole request body (proxy_on_request_body)
	ResponseBody bool // the plugin sees the whole response body (proxy_on_response_body)

	FailOpen bool // on failure continue without the plugin (default: fail closed, 503)
	// NoCloseOnContextDone turns deadlines off (config close_on_context_done:
	// false): the module is not instrumented (interrupt.go) and runs without
	// WithCloseOnContextDone; a runaway guest can then no longer be stopped.
	NoCloseOnContextDone bool

	// CacheDir is the compilation cache directory: "" for
	// $WASMGATE_CACHE_DIR or os.UserCacheDir()/wasmgate/wazero, "off" for
	// an in-memory cache only.
	CacheDir string
	Logger   *slog.Logger // guest logs and host errors (default slog.Default())

	// Host features beyond the HTTP callbacks (callout.go, shared.go,
	// queue.go, tick.go, wasmmetrics.go).
	VMID            string            // shared data and queues are per vm id (default: Name)
	Callouts        map[string]Caller // the upstreams proxy_http_call may reach, by name
	CalloutLimit    int               // concurrent callouts of the plugin (default 64)
	CalloutTimeout  time.Duration     // cap of each callout (default 5s)
	SharedDataLimit int64             // in-memory shared data bytes per vm id (default 1MiB)
	// SharedRedis keeps shared data in Redis, shared by every gateway.
	SharedRedis *stores.Redis
}

const (
	pageSize            = 64 << 10
	defaultMemory       = 64 << 20
	defaultTimeout      = 100 * time.Millisecond
	defaultStartTimeout = 10 * time.Second
	defaultMaxBody      = 1 << 20
)

func (o *Options) setDefaults() {
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = defaultMemory
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.Instances <= 0 {
		o.Instances = runtime.GOMAXPROCS(0)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = defaultMaxBody
	}
	if o.HoldTimeout <= 0 {
		o.HoldTimeout = defaultHoldTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.setHostDefaults()
}

// Plugin is a compiled module with its instance pool. It is safe for
// concurrent use; Close frees everything it holds.
type Plugin struct {
	name     string
	opts     Options
	logger   *slog.Logger
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	exports  map[string]api.FunctionDefinition
	pool     *wasmrt.Pool[*instance]
	stats    counters
	closed   atomic.Bool
	seq      atomic.Uint64 // instance names
	host     pluginHost    // ticks, callouts, shared data, queues, metrics
	roots    rootIDs       // one root context per live configuration (roots.go)
	abi      abiKind       // Proxy-Wasm or http-wasm, from the module's imports

	// instrumented: the module counts down to deadline checks (interrupt.go)
	// and runs without WithCloseOnContextDone.
	instrumented bool
}

// Load reads, compiles and validates the module at path, and creates all
// its instances (Options.Instances, each running proxy_on_vm_start and
// proxy_on_configure), so a bad module or config fails here rather than on
// the first request, and no VM starts mid-traffic (wasmrt.Pool.Fill).
func Load(ctx context.Context, path string, opts Options) (*Plugin, error) {
	code, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", opts.Name, err)
	}
	return LoadBytes(ctx, code, opts)
}

// LoadBytes is Load from the module's bytes.
func LoadBytes(ctx context.Context, code []byte, opts Options) (*Plugin, error) {
	opts.setDefaults()
	// The logger also collects a starting instance's error lines (startlog.go).
	p := &Plugin{name: opts.Name, opts: opts, logger: slog.New(startLogHandler{opts.Logger.Handler()}).With("plugin", opts.Name)}
	cache, err := wasmrt.CompilationCache(opts.CacheDir)
	if err != nil {
		p.logger.Warn("wasm compilation cache unavailable; compiling in memory", "err", err)
	}
	pages := uint32((opts.MemoryLimit + pageSize - 1) / pageSize)
	if pages > 65536 {
		pages = 65536
	}
	sctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	fail := func(err error) (*Plugin, error) {
		if p.rt != nil {
			_ = p.rt.Close(context.Background())
		}
		return nil, fmt.Errorf("plugin %s: %w", opts.Name, err)
	}
	// The module instrumented for deadlines (wasmrt/deadline.go), or as is. A cold
	// compile of a Go guest takes seconds, one from the cache a tenth of
	// one: the line says which this was.
	sum := sha256.Sum256(code)
	t0 := time.Now()
	c, err := wasmrt.Compile(sctx, code, pages, cache, !opts.NoCloseOnContextDone)
	if err != nil {
		return fail(fmt.Errorf("compiling: %w", err))
	}
	p.rt, p.compiled, p.instrumented = c.Runtime, c.Module, c.Instrumented
	if c.NotInstrumented != nil {
		p.logger.Warn("wasm module not instrumented for deadlines; using WithCloseOnContextDone (about 1 µs more per callback)", "err", c.NotInstrumented)
	}
	p.logger.Info("wasm module compiled", "bytes", len(code), "sha256", hex.EncodeToString(sum[:6]),
		"took", time.Since(t0).Round(time.Millisecond), "cache", wasmrt.CacheDirName(opts.CacheDir))
	guest := wasmrt.GuestModule(p.compiled, p.instrumented) // without the instrumentation's import
	if p.abi = detectABI(guest); p.abi == abiHTTPWasm {
		err = httpwasm.Validate(guest)
	} else {
		err = validateModule(guest)
	}
	if err != nil {
		return fail(err)
	}
	if err := p.host.open(p); err != nil {
		return fail(err)
	}
	p.exports = p.compiled.ExportedFunctions()
	if err := p.instantiateHostModules(sctx); err != nil {
		return fail(err)
	}
	if p.instrumented {
		if err := wasmrt.InstantiateInterrupt(sctx, p.rt, deadlineOf); err != nil {
			return fail(err)
		}
	}
	p.roots.live = []*root{{p: p, id: rootID, config: opts.Config}}
	p.pool = wasmrt.NewPool(opts.Instances, p.newInstance,
		func(err error, retryIn time.Duration) {
			p.logger.Error("wasm instance creation failed", "err", err, "retry_in", retryIn)
		},
		func() { p.stats.instancesDiscarded.Add(1) })
	if err := p.pool.Fill(ctx); err != nil {
		p.host.close(p)
		p.pool.Close()
		return fail(err)
	}
	openPlugins.Add(1)
	loadedPlugins.Add(1)
	return p, nil
}

// Name is the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Options returns the options the plugin runs with, defaults filled in.
func (p *Plugin) Options() Options { return p.opts }

// Close discards every instance and frees the compiled module. Exchanges
// must be over: the gateway closes a plugin only when no snapshot uses it.
func (p *Plugin) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	p.host.close(p) // on_done, ticks, callouts, queues: before the instances go
	p.pool.Close()
	p.stats.closes.Add(1)
	openPlugins.Add(-1)
	return p.rt.Close(context.Background())
}

// openPlugins counts loaded, not yet closed plugins in the process: what a
// reload must keep flat.
var openPlugins atomic.Int64

// loadedPlugins counts successful loads, to tell a kept plugin from a reloaded one.
var loadedPlugins atomic.Int64

// OpenPlugins reports how many plugins are loaded and not closed.
func OpenPlugins() int64 { return openPlugins.Load() }

// validateModule checks what a module must export and may import.
func validateModule(m wazero.CompiledModule) error {
	exports := m.ExportedFunctions()
	abi := false
	for _, name := range proxywasm.ABIMarkers {
		if _, ok := exports[name]; ok {
			abi = true
		}
	}
	if !abi {
		return fmt.Errorf("not a Proxy-Wasm 0.2 module: it exports neither %s; build it with a Proxy-Wasm SDK", joinOr(proxywasm.ABIMarkers))
	}
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		return errors.New(`the module exports no memory named "memory"`)
	}
	_, malloc := exports["malloc"]
	_, alloc := exports["proxy_on_memory_allocate"]
	if !malloc && !alloc {
		return errors.New("the module exports no allocator: malloc or proxy_on_memory_allocate")
	}
	if _, ok := exports["proxy_on_context_create"]; !ok {
		return errors.New("the module does not export proxy_on_context_create")
	}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == httpwasm.Module {
			return errors.New("this is an http-wasm module (imports http_handler); only the Proxy-Wasm ABI is supported so far")
		}
		if !proxywasm.AllowedImports[mod] {
			return fmt.Errorf("the module imports %s.%s; imports are only allowed from env, wasi_snapshot_preview1 and wasi_unstable", mod, name)
		}
	}
	if ms := m.ImportedMemories(); len(ms) > 0 {
		mod, name, _ := ms[0].Import()
		return fmt.Errorf("the module imports a memory (%s.%s); it must define and export its own", mod, name)
	}
	return nil
}

func joinOr(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += " nor "
		}
		s += n
	}
	return s
}

// CacheDir is the compilation cache directory Options.CacheDir "" stands for.
func CacheDir() string { return wasmrt.CacheDir() }
