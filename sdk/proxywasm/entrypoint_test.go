package proxywasm_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

type greeter struct {
	types.DefaultHttpContext
	id uint32
}

func (g *greeter) OnHttpRequestHeaders(int, bool) types.Action {
	_ = proxywasm.AddHttpRequestHeader("x-context", string(rune('0'+g.id)))
	return types.ActionContinue
}

// A filter registered with SetHttpContext in its init function runs under an
// emulator given no context of its own.
func TestSetHttpContextRegistersTheFilter(t *testing.T) {
	proxywasm.SetHttpContext(func(id uint32) types.HttpContext { return &greeter{id: id} })
	t.Cleanup(func() { proxywasm.SetVMContext(nil) })
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption())
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("StartPlugin failed")
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, nil, true)
	want := [2]string{"x-context", string(rune('0' + id))}
	if got := host.GetCurrentRequestHeaders(id); !slices.Contains(got, want) {
		t.Fatalf("headers = %q, want %q", got, want)
	}
}

type counterPlugin struct {
	types.DefaultPluginContext
	streams int
}

func (p *counterPlugin) NewHttpContext(uint32) types.HttpContext {
	p.streams++
	return &greeter{id: uint32(p.streams)}
}

func TestWithPluginContext(t *testing.T) {
	var made *counterPlugin
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithPluginContext(func(id uint32) types.PluginContext {
			if id != proxytest.PluginContextID {
				t.Errorf("plugin context id = %d, want %d", id, proxytest.PluginContextID)
			}
			made = &counterPlugin{}
			return made
		}))
	defer reset()
	host.InitializeHttpContext()
	host.InitializeHttpContext()
	if made == nil || made.streams != 2 {
		t.Fatalf("plugin context = %+v, want one that made 2 streams", made)
	}
}

// echo is a TCP filter: it tags what the client sends and closes the
// upstream when the client does.
type echo struct{ types.DefaultTcpContext }

func (*echo) OnDownstreamData(size int, eos bool) types.Action {
	data, err := proxywasm.GetDownstreamData(0, size)
	if err != nil {
		proxywasm.LogErrorf("read: %v", err)
	}
	_ = proxywasm.ReplaceDownstreamData(append([]byte("tagged:"), data...))
	return types.ActionContinue
}

func (*echo) OnDownstreamClose(types.PeerType) { _ = proxywasm.CloseUpstream() }
func (*echo) OnStreamDone()                    { proxywasm.LogInfo("connection done") }

func TestWithTcpContext(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithTcpContext(func(uint32) types.TcpContext { return &echo{} }))
	defer reset()
	id, action := host.InitializeConnection()
	if action != types.ActionContinue {
		t.Fatalf("OnNewConnection = %v", action)
	}
	host.CallOnDownstreamData(id, []byte("hello"))
	if got := string(host.GetCurrentDownstreamData(id)); got != "tagged:hello" {
		t.Fatalf("downstream data = %q", got)
	}
	host.CloseDownstreamConnection(id)
	host.CompleteConnection(id)
	if logs := host.GetInfoLogs(); !slices.Contains(logs, "connection done") {
		t.Fatalf("info logs = %q", logs)
	}
}

// ticker pauses each request and resumes the oldest from its tick, through
// SetEffectiveContext; it reads its settings as a map property.
type ticker struct {
	types.DefaultPluginContext
	waiting []uint32
}

func (p *ticker) NewHttpContext(id uint32) types.HttpContext { return &held{plugin: p, id: id} }

func (p *ticker) OnTick() {
	if len(p.waiting) == 0 {
		return
	}
	id := p.waiting[0]
	p.waiting = p.waiting[1:]
	if err := proxywasm.SetEffectiveContext(id); err != nil {
		proxywasm.LogErrorf("set effective context: %v", err)
		return
	}
	meta, err := proxywasm.GetPropertyMap([]string{"route_metadata", "filter_metadata", "ticker"})
	if err != nil {
		proxywasm.LogErrorf("route metadata: %v", err)
	}
	for _, kv := range meta {
		_ = proxywasm.AddHttpRequestHeader("x-"+kv[0], kv[1])
	}
	_ = proxywasm.ResumeHttpRequest()
}

type held struct {
	types.DefaultHttpContext
	plugin *ticker
	id     uint32
}

func (h *held) OnHttpRequestHeaders(int, bool) types.Action {
	h.plugin.waiting = append(h.plugin.waiting, h.id)
	return types.ActionPause
}

// serializedMap is the header-map encoding Envoy uses for map properties.
func serializedMap(pairs [][2]string) []byte {
	le := func(b []byte, v int) []byte { return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24)) }
	b := le(nil, len(pairs))
	for _, p := range pairs {
		b = le(le(b, len(p[0])), len(p[1]))
	}
	for _, p := range pairs {
		b = append(append(append(append(b, p[0]...), 0), p[1]...), 0)
	}
	return b
}

func TestSetEffectiveContextFromTickAndGetPropertyMap(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithPluginContext(func(uint32) types.PluginContext { return &ticker{} }).
		WithProperty([]string{"route_metadata", "filter_metadata", "ticker"},
			serializedMap([][2]string{{"tier", "gold"}, {"zone", "eu"}})))
	defer reset()
	first, second := host.InitializeHttpContext(), host.InitializeHttpContext()
	host.CallOnRequestHeaders(first, nil, true)
	host.CallOnRequestHeaders(second, nil, true)
	host.Tick()
	if a := host.GetCurrentHttpStreamAction(first); a != types.ActionContinue {
		t.Fatalf("first stream after the tick = %v, want resumed", a)
	}
	if a := host.GetCurrentHttpStreamAction(second); a != types.ActionPause {
		t.Fatalf("second stream after one tick = %v, want still paused", a)
	}
	got := host.GetCurrentRequestHeaders(first)
	for _, want := range [][2]string{{"x-tier", "gold"}, {"x-zone", "eu"}} {
		if !slices.Contains(got, want) {
			t.Fatalf("headers of the resumed stream = %q, want %q", got, want)
		}
	}
	if errs := host.GetErrorLogs(); len(errs) != 0 {
		t.Fatalf("error logs = %q", errs)
	}
}

type foreignCaller struct{ types.DefaultPluginContext }

func (*foreignCaller) OnTick() {
	if _, err := proxywasm.CallForeignFunction("unknown", []byte("x")); !errors.Is(err, types.ErrorUnimplemented) {
		proxywasm.LogErrorf("unknown foreign function: err = %v, want UNIMPLEMENTED", err)
	}
	ret, err := proxywasm.CallForeignFunction("upper", []byte("abc"))
	proxywasm.LogInfof("upper: %s %v", ret, err)
}

func TestCallForeignFunction(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithPluginContext(func(uint32) types.PluginContext { return &foreignCaller{} }))
	defer reset()
	host.RegisterForeignFunction("upper", func(b []byte) []byte {
		out := slices.Clone(b)
		for i := range out {
			out[i] -= 'a' - 'A'
		}
		return out
	})
	host.Tick()
	if errs := host.GetErrorLogs(); len(errs) != 0 {
		t.Fatal(errs)
	}
	if logs := host.GetInfoLogs(); !slices.Contains(logs, "upper: ABC <nil>") {
		t.Fatalf("info logs = %q", logs)
	}
}
