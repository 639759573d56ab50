package proxytest_test

import (
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

type vm struct {
	types.DefaultVMContext
	tag string
}

func (v *vm) NewPluginContext(uint32) types.PluginContext { return &plugin{tag: v.tag} }

type plugin struct {
	types.DefaultPluginContext
	tag string
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext { return &stream{tag: p.tag} }

type stream struct {
	types.DefaultHttpContext
	tag string
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	_ = proxywasm.AddHttpRequestHeader("x-tag", s.tag)
	return types.ActionContinue
}

// A second emulator created before the first is reset replaces it, rather
// than deadlocking a sequential test; the stale reset does nothing.
func TestNewEmulatorReplacesPrevious(t *testing.T) {
	_, resetA := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vm{tag: "a"}))
	b, resetB := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vm{tag: "b"}))
	defer resetB()
	resetA()
	id := b.InitializeHttpContext()
	b.CallOnRequestHeaders(id, nil, true)
	if got := b.GetCurrentRequestHeaders(id); len(got) != 1 || got[0] != [2]string{"x-tag", "b"} {
		t.Fatalf("headers = %q", got)
	}
}

func TestHostCallWithoutEmulatorPanicsWithAHint(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a host call without an emulator must panic")
		}
	}()
	_ = proxywasm.AddHttpRequestHeader("k", "v")
}
