package wasm

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// The whole lifecycle, in order, with header edits, properties and the
// response phase.
func TestLifecycleAndHeaders(t *testing.T) {
	opts, logs := testOptions(t, "life")
	opts.Config = []byte(`{"k":"v"}`)
	p := load(t, "lifecycle", opts)
	for _, want := range []string{"vm_start", "hello from stdout", "configure", `\"k\":\"v\"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("load log lacks %q:\n%s", want, logs)
		}
	}
	r := request("GET", "http://api.example.com/users/42?x=1", "X-Replace", "old", "X-Remove", "gone")
	r.RemoteAddr = "192.0.2.7:5555"
	out, err := p.Exchange(context.Background(), Run{
		Request:  r,
		Route:    "users",
		Params:   router.Params{{Name: "id", Value: "42"}},
		Consumer: &filter.Consumer{Name: "mobile-app"},
		Response: &filter.Response{Status: 200, Header: http.Header{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, out, 200)
	got := logMessages(out)
	want := []string{"context_create", "request_headers",
		"GET", "/users/42?x=1", "api.example.com", "192.0.2.7:5555", "life", "users", "42", "mobile-app", "noted",
		"unknown property: not found", "set request.path: not found",
		"response_headers", "done", "log", "delete"}
	if !slices.Equal(got, want) {
		t.Errorf("callbacks and properties:\n got %q\nwant %q", got, want)
	}
	h := out.Request.Header
	if h.Get("X-Wasm") != "hello" || h.Get("X-Replace") != "new" || h.Values("X-Remove") != nil {
		t.Errorf("request headers after the plugin: %v", h)
	}
	if out.Response.Header.Get("X-Wasm-Response") != "1" {
		t.Errorf("response headers after the plugin: %v", out.Response.Header)
	}
}

func TestLocalResponse(t *testing.T) {
	opts, _ := testOptions(t, "life")
	p := load(t, "lifecycle", opts)
	out := exchange(t, p, request("GET", "http://x/", "X-Deny", "1"))
	wantStatus(t, out, 403)
	if string(out.Local.Body) != "denied by wasm" || out.Local.Header.Get("X-Denied-By") != "wasm" {
		t.Errorf("local response: %+v", out.Local)
	}
	// No response callbacks for its own local response; done/log/delete still run.
	msgs := logMessages(out)
	if slices.Contains(msgs, "response_headers") || !slices.Contains(msgs, "delete") {
		t.Errorf("callbacks: %q", msgs)
	}
	if s := p.Stats(); s.LocalResponses != 1 {
		t.Errorf("local responses counted %d", s.LocalResponses)
	}
}

func TestRequestBody(t *testing.T) {
	opts, _ := testOptions(t, "life")
	opts.RequestBody = true
	p := load(t, "lifecycle", opts)
	r := request("POST", "http://x/")
	out, err := p.Exchange(context.Background(), Run{Request: r, Body: []byte("original")})
	if err != nil {
		t.Fatal(err)
	}
	msgs := logMessages(out)
	if !slices.Contains(msgs, "request_body") || !slices.Contains(msgs, "original") {
		t.Errorf("body callback: %q", msgs)
	}
	if string(out.Body) != "REPLACED" || out.Request.ContentLength != 8 {
		t.Errorf("body after the plugin: %q (%d)", out.Body, out.Request.ContentLength)
	}
	if n := p.NewFilter().Needs(); !n.RequestBody || n.ResponseBody || n.MaxBody != defaultMaxBody {
		t.Errorf("needs %+v", n)
	}
}

// Out-of-range pointers and a lying allocator get statuses, not panics.
func TestOutOfBoundsPointers(t *testing.T) {
	opts, _ := testOptions(t, "oob")
	p := load(t, "oob", opts)
	out := exchange(t, p, request("GET", "http://x/"))
	if out.Failed != nil {
		t.Fatal(out.Failed)
	}
	if got := out.Request.Header.Get("X-Oob"); got != "ok" {
		t.Fatalf("x-oob %q: a host function answered other than INVALID_MEMORY_ACCESS/EFAULT/UNIMPLEMENTED", got)
	}
}

// Each hostile guest meets its plugin's failure policy; the instance is
// discarded and the plugin recovers once the back-off passes.
func TestHostileGuests(t *testing.T) {
	cases := []struct {
		module, header string
		memory         int64
	}{
		{"loop_callback", "X-Loop", 0},
		{"grow_bomb", "X-Grow", 1 << 20},
		{"recursion", "X-Recurse", 0},
	}
	for _, c := range cases {
		for _, open := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fail_open=%v", c.module, open), func(t *testing.T) {
				opts, logs := testOptions(t, c.module)
				opts.Timeout = 50 * time.Millisecond
				opts.FailOpen = open
				opts.MemoryLimit = c.memory
				p := load(t, c.module, opts)
				start := time.Now()
				out := exchange(t, p, request("GET", "http://x/", c.header, "1"))
				if out.Failed == nil {
					t.Fatal("the plugin did not fail")
				}
				if open {
					wantStatus(t, out, 200)
				} else if !isPolicy503(out.Local, c.module) {
					t.Fatalf("want the fail_closed 503, got %+v", out.Local)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("failing took %s", d)
				}
				if !strings.Contains(logs.String(), "wasm plugin failed") {
					t.Errorf("failure not logged:\n%s", logs)
				}
				s := p.Stats()
				if s.Failures != 1 || s.InstancesDiscarded != 1 || s.LiveInstances != 0 {
					t.Errorf("stats after failure: %+v", s)
				}
				// Back-off, then a fresh instance serves well-behaved requests.
				time.Sleep(2 * wasmrt.MinBackoff) // the re-creation back-off must elapse
				out = exchange(t, p, request("GET", "http://x/"))
				if out.Failed != nil || out.Request.Header.Get("X-Ok") != "1" {
					t.Fatalf("after recovery: failed %v, headers %v", out.Failed, out.Request.Header)
				}
			})
		}
	}
}

func TestTimeoutCounted(t *testing.T) {
	opts, _ := testOptions(t, "loop")
	opts.Timeout = 20 * time.Millisecond
	p := load(t, "loop_callback", opts)
	exchange(t, p, request("GET", "http://x/", "X-Loop", "1"))
	if s := p.Stats(); s.Timeouts != 1 {
		t.Errorf("timeouts %d, want 1", s.Timeouts)
	}
	// While re-creation backs off, exchanges fail fast by policy.
	out := exchange(t, p, request("GET", "http://x/"))
	if !isPolicy503(out.Local, "loop") {
		t.Errorf("during back-off: %+v", out.Local)
	}
}

func TestTrapMidRequest(t *testing.T) {
	opts, _ := testOptions(t, "trap")
	p := load(t, "trap_response", opts)
	out := exchange(t, p, request("GET", "http://x/"))
	if out.Request.Header.Get("X-Ok") != "1" {
		t.Error("the request phase did not run")
	}
	if !isPolicy503(out.Local, "trap") {
		t.Fatalf("a trap in the response phase should replace the response with 503; got %+v / %+v", out.Local, out.Response)
	}
}

func TestStartupHangsAreBounded(t *testing.T) {
	for _, module := range []string{"loop_initialize", "loop_start"} {
		t.Run(module, func(t *testing.T) {
			opts, _ := testOptions(t, module)
			opts.StartTimeout = 100 * time.Millisecond
			start := time.Now()
			_, err := Load(context.Background(), "testdata/"+module+".wasm", opts)
			if err == nil || !strings.Contains(err.Error(), "deadline") {
				t.Fatalf("want a deadline error, got %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestRejectsNonProxyWasm(t *testing.T) {
	opts, _ := testOptions(t, "bad")
	// A module without the ABI marker.
	_, err := LoadBytes(context.Background(), []byte("\x00asm\x01\x00\x00\x00"), opts)
	if err == nil || !strings.Contains(err.Error(), "proxy_abi_version") {
		t.Fatalf("got %v", err)
	}
}

// Many exchanges on a pool of two instances, some sharing an instance, some
// failing: run with -race.
func TestConcurrentExchanges(t *testing.T) {
	opts, _ := testOptions(t, "life")
	opts.Instances = 2
	p := load(t, "lifecycle", opts)
	f := p.NewFilter()
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				x := &filter.Exchange{Request: request("GET", fmt.Sprintf("http://x/%d/%d", g, i))}
				if r := f.OnRequest(x); r != nil {
					errs <- fmt.Sprintf("local %d", r.Status)
					return
				}
				x.Response = &filter.Response{Status: 200, Header: http.Header{}}
				f.OnResponse(x)
				f.OnDone(x)
				if x.Request.Header.Get("X-Wasm") != "hello" || x.Response.Header.Get("X-Wasm-Response") != "1" {
					errs <- "headers not edited"
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	s := p.Stats()
	if s.LiveInstances > 2 || s.InstancesCreated > 2 || s.Exchanges != 800 || s.Failures != 0 {
		t.Errorf("stats %+v", s)
	}
}

// Long-lived exchanges pinned to every instance do not block new ones: they
// share an instance.
func TestPinnedExchangesShare(t *testing.T) {
	opts, _ := testOptions(t, "life")
	opts.Instances = 1
	p := load(t, "lifecycle", opts)
	f := p.NewFilter()
	var open []*filter.Exchange
	for i := 0; i < 5; i++ {
		x := &filter.Exchange{Request: request("GET", "http://x/")}
		if r := f.OnRequest(x); r != nil {
			t.Fatalf("exchange %d: %d", i, r.Status)
		}
		open = append(open, x)
	}
	for _, x := range open {
		x.Response = &filter.Response{Status: 200, Header: http.Header{}}
		f.OnResponse(x)
		f.OnDone(x)
	}
	if s := p.Stats(); s.InstancesCreated != 1 || s.IdleInstances != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestCloseFreesInstances(t *testing.T) {
	opts, _ := testOptions(t, "life")
	p, err := Load(context.Background(), "testdata/lifecycle.wasm", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); !s.Closed || s.LiveInstances != 0 {
		t.Errorf("after close: %+v", s)
	}
	_ = p.Close() // idempotent
}
