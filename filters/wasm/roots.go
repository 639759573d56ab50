package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// Root contexts, one per plugin configuration.
//
// Envoy keys a VM by its code and vm_config, not by the plugin's
// configuration: a reload that changes only `config:` keeps the VM and
// creates a new root context in it (proxy_on_context_create with parent 0,
// then proxy_on_configure) for the new configuration; the old one gets
// proxy_on_done and proxy_on_delete when the last listener using it goes.
// So does this host: the compiled module and the pooled instances (their
// memory, their shared state, their warm caches) survive a config-only
// reload, and proxy_on_vm_start does not run again. A root is the gateway's
// kept value for one configuration (config.go, Build); the Plugin holds the
// module and the pool.
//
// The first root has id 1 (rootID); later ones count down from the top of
// the id space, so stream ids keep counting up from 2 and never meet them.

// root is one configuration running in every instance of a plugin.
type root struct {
	p      *Plugin
	id     uint32
	config []byte // buffer 7 at its proxy_on_configure
}

// rootIDs is the plugin's root bookkeeping.
type rootIDs struct {
	mu   sync.Mutex
	live []*root // oldest first
	next uint32  // the id of the next root after the first
}

// firstExtraRootID is the id of the second root; streamIDLimit keeps
// stream ids below every root id a plugin could ever hand out.
const (
	firstExtraRootID = ^uint32(0)
	streamIDLimit    = firstExtraRootID - 1<<20
)

// liveRoots returns the plugin's roots, oldest first.
func (p *Plugin) liveRoots() []*root {
	p.roots.mu.Lock()
	defer p.roots.mu.Unlock()
	return slices.Clone(p.roots.live)
}

// newestRoot is the root of the configuration loaded last.
func (p *Plugin) newestRoot() *root {
	p.roots.mu.Lock()
	defer p.roots.mu.Unlock()
	if n := len(p.roots.live); n > 0 {
		return p.roots.live[n-1]
	}
	return nil
}

// rootFor returns the root running config, creating it in every live
// instance (context_create, then configure) if no live root runs these
// bytes. A guest rejecting the configuration fails the call, as a load
// would fail: the reload is refused and the old configuration serves on.
func (p *Plugin) rootFor(config []byte) (*root, error) {
	p.roots.mu.Lock()
	for _, r := range p.roots.live {
		if bytes.Equal(r.config, config) {
			p.roots.mu.Unlock()
			return r, nil
		}
	}
	if p.roots.next == 0 {
		p.roots.next = firstExtraRootID
	}
	if p.roots.next <= streamIDLimit {
		p.roots.mu.Unlock()
		return nil, errors.New("too many configurations of one loaded module")
	}
	r := &root{p: p, id: p.roots.next, config: bytes.Clone(config)}
	p.roots.next--
	p.roots.live = append(p.roots.live, r)
	p.roots.mu.Unlock()
	if p.abi == abiHTTPWasm { // no root contexts; the config is part of the module's key
		return r, nil
	}
	for _, in := range p.pool.Live() {
		var err error
		ran := p.onRoot(in, func() error {
			err = in.ensureRoot(r)
			if errors.Is(err, errRejectedConfig) {
				return nil // the reload's error, not the instance's
			}
			return err
		})
		if ran && err != nil {
			p.retire(r)
			return nil, err
		}
	}
	p.logger.Info("wasm plugin configured in its running instances", "root_context", r.id, "config_bytes", len(config))
	return r, nil
}

// Close retires the root (its configuration is no longer used): each
// instance runs proxy_on_done for it and, if that returns true,
// proxy_on_delete. Exchanges using it are over (the gateway closes kept
// values after the snapshots using them).
func (r *root) Close() error {
	r.p.retire(r)
	return nil
}

func (p *Plugin) retire(r *root) {
	p.roots.mu.Lock()
	i := slices.Index(p.roots.live, r)
	if i >= 0 {
		p.roots.live = slices.Delete(p.roots.live, i, i+1)
	}
	p.roots.mu.Unlock()
	if i < 0 || p.closed.Load() || p.abi == abiHTTPWasm {
		return // Close drains the roots of a closing plugin
	}
	for _, in := range p.pool.Live() {
		p.onRoot(in, func() error {
			if !in.hasRoot(r) {
				return nil
			}
			defer in.dropRoot(r)
			if in.fns[proxywasm.OnDone] == nil {
				return nil
			}
			in.root = r
			ok, err := in.call(proxywasm.OnDone, uint64(r.id))
			if err == nil && uint32(ok) != 0 {
				_, err = in.call(proxywasm.OnDelete, uint64(r.id))
			}
			return err
		})
	}
}

// errRejectedConfig is a proxy_on_configure that returned false.
var errRejectedConfig = errors.New("the plugin rejected its config")

// hasRoot reports whether r's root context exists in the instance.
// Callers hold in.mu.
func (in *instance) hasRoot(r *root) bool { return slices.Contains(in.roots, r) }

// rootByID is the instance's root context with that id, or nil.
func (in *instance) rootByID(id uint32) *root {
	for _, r := range in.roots {
		if r.id == id {
			return r
		}
	}
	return nil
}

// curRoot is the root of the running callback: the stream's, or the root
// context's own. Callers hold in.mu.
func (in *instance) curRoot() *root {
	if in.cur != nil {
		return in.cur.f.root
	}
	if in.root != nil {
		return in.root
	}
	return in.newestRoot()
}

// newestRoot is the instance's root context created last.
func (in *instance) newestRoot() *root {
	if n := len(in.roots); n > 0 {
		return in.roots[n-1]
	}
	return nil
}

func (in *instance) dropRoot(r *root) {
	in.roots = slices.DeleteFunc(in.roots, func(x *root) bool { return x == r })
	if in.root == r {
		in.root = in.newestRoot()
	}
}

// ensureRoot creates r's root context in the instance unless it exists:
// at reload for the running instances, or at an exchange's start for an
// instance that joined the pool while the reload configured the others.
// Callers hold in.mu.
func (in *instance) ensureRoot(r *root) error {
	if in.hasRoot(r) {
		return nil
	}
	return in.startRoot(in.ctx, r, false, nil)
}

// startRoot creates r's root context: proxy_on_context_create(id, 0),
// proxy_on_vm_start if vmStart (the instance's first root), then
// proxy_on_configure. Callers hold in.mu.
func (in *instance) startRoot(ctx context.Context, r *root, vmStart bool, logs *startLog) error {
	call := func(cb callback, args ...uint64) (uint64, error) {
		if ctx == in.ctx {
			return in.call(cb, args...) // under the callback deadline
		}
		return in.callCtx(ctx, cb, args...) // under the start-up's
	}
	prev := in.root
	in.root = r
	ok := false
	defer func() {
		if !ok {
			in.root = prev
		}
	}()
	id := uint64(r.id)
	if _, err := call(proxywasm.OnContextCreate, id, 0); err != nil {
		return fmt.Errorf("proxy_on_context_create (root): %w", err)
	}
	if vmStart && in.fns[proxywasm.OnVMStart] != nil {
		res, err := call(proxywasm.OnVMStart, id, uint64(len(in.p.opts.VMConfig)))
		if err != nil {
			return fmt.Errorf("proxy_on_vm_start: %w", err)
		}
		if uint32(res) == 0 {
			return errors.New("proxy_on_vm_start returned false: the plugin rejected its vm_config" + logs.reason())
		}
	}
	if in.fns[proxywasm.OnConfigure] != nil {
		res, err := call(proxywasm.OnConfigure, id, uint64(len(r.config)))
		if err != nil {
			return fmt.Errorf("proxy_on_configure: %w", err)
		}
		if uint32(res) == 0 {
			return fmt.Errorf("proxy_on_configure returned false: %w%s", errRejectedConfig, logs.reason())
		}
	}
	in.roots = append(in.roots, r)
	ok = true
	return nil
}
