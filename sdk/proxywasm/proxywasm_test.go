package proxywasm_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// A filter that uses most of the API; each test drives one part of it.
type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct {
	types.DefaultPluginContext
	config   string
	requests proxywasm.MetricCounter
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	b, err := proxywasm.GetPluginConfiguration()
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) { // NOT_FOUND: no configuration
		return types.OnPluginStartStatusFailed
	}
	p.config = string(b)
	if p.config == "fail" {
		return types.OnPluginStartStatusFailed
	}
	p.requests = proxywasm.DefineCounterMetric("requests")
	return proxywasm.SetTickPeriodMilliSeconds(100) == nil
}

func (p *plugin) OnTick() { proxywasm.LogInfo("tick") }

func (p *plugin) NewHttpContext(id uint32) types.HttpContext { return &stream{plugin: p, id: id} }

type stream struct {
	types.DefaultHttpContext
	plugin *plugin
	id     uint32
}

func (s *stream) OnHttpRequestHeaders(n int, eos bool) types.Action {
	s.plugin.requests.Increment(1)
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	switch path {
	case "/deny":
		_ = proxywasm.SendHttpResponse(403, [][2]string{{"content-type", "text/plain"}}, []byte("denied"), -1)
		return types.ActionPause
	case "/callout":
		_, err := proxywasm.DispatchHttpCall("auth", [][2]string{{":method", "GET"}, {":path", "/check"}, {":authority", "auth"}},
			nil, nil, 1000, func(numHeaders, bodySize, numTrailers int) {
				body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
				_ = proxywasm.AddHttpRequestHeader("x-auth", string(body))
				_ = proxywasm.ResumeHttpRequest()
			})
		if err != nil {
			proxywasm.LogErrorf("callout: %v", err)
			return types.ActionContinue
		}
		return types.ActionPause
	}
	_ = proxywasm.AddHttpRequestHeader("x-config", s.plugin.config)
	_ = proxywasm.ReplaceHttpRequestHeader("x-count", strconv.Itoa(n))
	_ = proxywasm.RemoveHttpRequestHeader("x-secret")
	if _, err := proxywasm.GetHttpRequestHeader("x-missing"); !errors.Is(err, types.ErrorStatusNotFound) {
		proxywasm.LogErrorf("missing header: %v", err)
	}
	proxywasm.LogDebugf("debug %d", n)
	proxywasm.LogWarnf("headers %d", n)
	return types.ActionContinue
}

func (s *stream) OnHttpRequestBody(size int, eos bool) types.Action {
	if !eos {
		return types.ActionPause
	}
	body, err := proxywasm.GetHttpRequestBody(0, size)
	if err != nil {
		proxywasm.LogErrorf("body: %v", err)
		return types.ActionContinue
	}
	_ = proxywasm.ReplaceHttpRequestBody(append([]byte("["), append(body, ']')...))
	_ = proxywasm.AppendHttpRequestBody([]byte("!"))
	_ = proxywasm.PrependHttpRequestBody([]byte(">"))
	return types.ActionContinue
}

func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	headers, _ := proxywasm.GetHttpResponseHeaders()
	headers = append(headers, [2]string{"x-seen", strconv.Itoa(len(headers))})
	_ = proxywasm.ReplaceHttpResponseHeaders(headers)
	return types.ActionContinue
}

func (s *stream) OnHttpStreamDone() {
	v, _ := proxywasm.GetProperty([]string{"request", "path"})
	proxywasm.LogInfof("done %s", v)
	_ = proxywasm.SetProperty([]string{"wasmgate", "seen"}, []byte("yes"))
}

func start(t *testing.T, opt *proxytest.EmulatorOption) proxytest.HostEmulator {
	t.Helper()
	host, reset := proxytest.NewHostEmulator(opt.WithVMContext(&vm{}))
	t.Cleanup(reset)
	if host.StartVM() != types.OnVMStartStatusOK {
		t.Fatal("StartVM failed")
	}
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("StartPlugin failed")
	}
	return host
}

func header(h [][2]string, key string) (string, bool) {
	for _, p := range h {
		if p[0] == key {
			return p[1], true
		}
	}
	return "", false
}

func TestRequestHeaders(t *testing.T) {
	host := start(t, proxytest.NewEmulatorOption().WithPluginConfiguration([]byte("cfg")))
	id := host.InitializeHttpContext()
	action := host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}, {"x-secret", "s"}, {"x-count", "a"}, {"X-Count", "b"}}, true)
	if action != types.ActionContinue {
		t.Fatalf("action = %v", action)
	}
	h := host.GetCurrentRequestHeaders(id)
	if v, _ := header(h, "x-config"); v != "cfg" {
		t.Errorf("x-config = %q; headers %q", v, h)
	}
	if v, _ := header(h, "x-count"); v != "4" {
		t.Errorf("x-count = %q; headers %q", v, h)
	}
	if _, ok := header(h, "X-Count"); ok {
		t.Errorf("replace left a duplicate: %q", h)
	}
	if _, ok := header(h, "x-secret"); ok {
		t.Errorf("x-secret not removed: %q", h)
	}
	if errs := host.GetErrorLogs(); len(errs) != 0 {
		t.Errorf("error logs: %q", errs)
	}
	if got := host.GetWarnLogs(); len(got) != 1 || got[0] != "headers 4" {
		t.Errorf("warn logs = %q", got)
	}
	if n, _ := host.GetCounterMetric("requests"); n != 1 {
		t.Errorf("requests metric = %d", n)
	}
	if host.GetTickPeriod() != 100 {
		t.Errorf("tick period = %d", host.GetTickPeriod())
	}
	host.Tick()
	if got := host.GetInfoLogs(); len(got) != 1 || got[0] != "tick" {
		t.Errorf("info logs = %q", got)
	}
}

func TestLogLevelFilters(t *testing.T) {
	host := start(t, proxytest.NewEmulatorOption().WithLogLevel(types.LogLevelWarn))
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, true)
	if got := host.GetDebugLogs(); len(got) != 0 {
		t.Errorf("debug logged below the host level: %q", got)
	}
	if got := host.GetWarnLogs(); len(got) != 1 {
		t.Errorf("warn logs = %q", got)
	}
}

func TestRequestBodyBuffersUntilEndOfStream(t *testing.T) {
	host := start(t, proxytest.NewEmulatorOption())
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, false)
	if a := host.CallOnRequestBody(id, []byte("ab"), false); a != types.ActionPause {
		t.Fatalf("first chunk action = %v", a)
	}
	if a := host.CallOnRequestBody(id, []byte("cd"), true); a != types.ActionContinue {
		t.Fatalf("last chunk action = %v", a)
	}
	if got := string(host.GetCurrentRequestBody(id)); got != ">[abcd]!" {
		t.Fatalf("body = %q", got)
	}
}

func TestLocalResponse(t *testing.T) {
	host := start(t, proxytest.NewEmulatorOption())
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, [][2]string{{":path", "/deny"}}, true); a != types.ActionPause {
		t.Fatalf("action = %v", a)
	}
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 403 || string(r.Data) != "denied" || r.GRPCStatus != -1 {
		t.Fatalf("local response = %+v", r)
	}
	if v, _ := header(r.Headers, "content-type"); v != "text/plain" {
		t.Fatalf("local response headers = %q", r.Headers)
	}
}

func TestHttpCallout(t *testing.T) {
	host := start(t, proxytest.NewEmulatorOption())
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, [][2]string{{":path", "/callout"}}, true); a != types.ActionPause {
		t.Fatalf("action = %v; errors %q", a, host.GetErrorLogs())
	}
	calls := host.GetCalloutAttributesFromContext(id)
	if len(calls) != 1 || calls[0].Upstream != "auth" {
		t.Fatalf("callouts = %+v", calls)
	}
	if v, _ := header(calls[0].Headers, ":path"); v != "/check" {
		t.Fatalf("callout headers = %q", calls[0].Headers)
	}
	host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", "200"}}, nil, []byte("ok"))
	if v, _ := header(host.GetCurrentRequestHeaders(id), "x-auth"); v != "ok" {
		t.Fatalf("x-auth = %q", v)
	}
	if a := host.GetCurrentHttpStreamAction(id); a != types.ActionContinue {
		t.Fatalf("stream not resumed: %v", a)
	}
}

func TestResponseHeadersAndStreamDone(t *testing.T) {
	host := start(t, proxytest.NewEmulatorOption())
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":path", "/users/1"}}, true)
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"a", "b"}}, false)
	if v, _ := header(host.GetCurrentResponseHeaders(id), "x-seen"); v != "2" {
		t.Fatalf("response headers = %q", host.GetCurrentResponseHeaders(id))
	}
	host.CompleteHttpContext(id)
	if got := host.GetInfoLogs(); len(got) != 1 || got[0] != "done /users/1" {
		t.Fatalf("info logs = %q", got)
	}
	if v, err := host.GetProperty([]string{"wasmgate", "seen"}); err != nil || string(v) != "yes" {
		t.Fatalf("property = %q, %v", v, err)
	}
}

func TestPluginStartFailure(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vm{}).WithPluginConfiguration([]byte("fail")))
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusFailed {
		t.Fatal("StartPlugin should fail")
	}
}

func TestSharedDataCAS(t *testing.T) {
	host := start(t, proxytest.NewEmulatorOption())
	_ = host
	if err := proxywasm.SetSharedData("k", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	v, cas, err := proxywasm.GetSharedData("k")
	if err != nil || string(v) != "v1" {
		t.Fatalf("get = %q, %v", v, err)
	}
	if err := proxywasm.SetSharedData("k", []byte("v2"), cas+1); !errors.Is(err, types.ErrorStatusCasMismatch) {
		t.Fatalf("stale cas: %v", err)
	}
	if err := proxywasm.SetSharedData("k", []byte("v2"), cas); err != nil {
		t.Fatalf("matching cas: %v", err)
	}
	q, _ := proxywasm.RegisterSharedQueue("q")
	if _, err := proxywasm.DequeueSharedQueue(q); !errors.Is(err, types.ErrorStatusEmpty) {
		t.Fatalf("empty queue: %v", err)
	}
	_ = proxywasm.EnqueueSharedQueue(q, []byte("item"))
	if b, err := proxywasm.DequeueSharedQueue(q); err != nil || string(b) != "item" {
		t.Fatalf("dequeue = %q, %v", b, err)
	}
}
