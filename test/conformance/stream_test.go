package conformance

// Streamed bodies, buffer edits, held streams and local responses, through a
// real gateway (core/gateway, real listeners, a real upstream) and the guest
// testdata/stream.wat. Each case names the rule of Envoy's Proxy-Wasm host it
// checks: envoy source/extensions/common/wasm/context.cc (decodeData,
// encodeData, convertFilterDataStatus, Buffer::copyFrom, sendLocalResponse)
// and source/common/http/utility.cc (sendLocalReply).

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/gateway"
)

// record is one body callback as stream.wat logs it.
type record struct {
	dir  byte // 0 request, 1 response
	size uint32
	eos  bool
}

func (r record) String() string { return fmt.Sprintf("{%d %d %v}", r.dir, r.size, r.eos) }

// guestLogs passes stream.wat's binary records ("B…", "E…") to a channel
// and keeps every other line.
type guestLogs struct {
	records chan []byte
	lines   chan string
}

func (g *guestLogs) Enabled(context.Context, slog.Level) bool { return true }
func (g *guestLogs) WithAttrs([]slog.Attr) slog.Handler       { return g }
func (g *guestLogs) WithGroup(string) slog.Handler            { return g }
func (g *guestLogs) Handle(_ context.Context, r slog.Record) error {
	m := r.Message
	if (len(m) == 7 && m[0] == 'B') || (len(m) == 5 && m[0] == 'E') || m == "P" {
		g.records <- []byte(m)
		return nil
	}
	select {
	case g.lines <- m:
	default:
	}
	return nil
}

// streamGateway runs a gateway with stream.wat (modes as its config) on
// route /s in front of upstream.
type streamGateway struct {
	t    *testing.T
	url  string
	logs *guestLogs
}

func startStream(t *testing.T, modes, limits string, upstream http.Handler) *streamGateway {
	t.Helper()
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	wasmPath, _ := filepath.Abs("testdata/stream.wasm")
	if limits == "" {
		limits = "{}"
	}
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  up: { targets: [{ url: %q }] }
plugins:
  stream: { source: %q, config: %q, limits: %s }
routes:
  - { name: s, match: { prefix: /s }, filters: [{ wasm: stream }], upstream: up }
`, up.URL, wasmPath, modes, limits)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &guestLogs{records: make(chan []byte, 64), lines: make(chan string, 64)}
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	return &streamGateway{t: t, url: "http://" + g.Addrs()["main"].String() + "/s", logs: logs}
}

// next is the guest's next body record; failing after a long wait only so a
// broken host fails the test rather than hanging it.
func (g *streamGateway) next() record {
	g.t.Helper()
	select {
	case m := <-g.logs.records:
		if m[0] != 'B' {
			g.t.Fatalf("got edit record %q, want a body record", m)
		}
		return record{dir: m[1], size: binary.LittleEndian.Uint32(m[2:6]), eos: m[6] == 1}
	case <-time.After(20 * time.Second):
		g.t.Fatal("the guest was not called")
	}
	return record{}
}

// edit is the status of the guest's next edit.
func (g *streamGateway) edit() uint32 {
	g.t.Helper()
	select {
	case m := <-g.logs.records:
		if m[0] != 'E' {
			g.t.Fatalf("got body record %q, want an edit record", m)
		}
		return binary.LittleEndian.Uint32(m[1:5])
	case <-time.After(20 * time.Second):
		g.t.Fatal("the guest made no edit")
	}
	return 0
}

// none asserts the guest logged no more records: call it after the
// exchange is over (the guest logs before the response is sent).
func (g *streamGateway) none() {
	g.t.Helper()
	select {
	case m := <-g.logs.records:
		g.t.Fatalf("unexpected guest record %q", m)
	default:
	}
}

// post sends chunks as a chunked body, each after the guest saw the one
// before it (wait returns once it did), and returns the response.
func (g *streamGateway) post(chunks []string, wait func(i int)) (*http.Response, string) {
	g.t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", g.url, pr)
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp: resp, body: string(b), err: err}
	}()
	for i, c := range chunks {
		if _, err := pw.Write([]byte(c)); err != nil {
			break // the gateway answered early
		}
		wait(i)
	}
	pw.Close()
	r := <-done
	if r.err != nil {
		g.t.Fatal(r.err)
	}
	return r.resp, r.body
}

// bodyRecorder is an upstream that records the body it got and how it was framed.
type bodyRecorder struct {
	bodies  chan string
	framing chan string
	first   chan string // the first read of each body
}

func newBodyRecorder() *bodyRecorder {
	return &bodyRecorder{bodies: make(chan string, 8), framing: make(chan string, 8), first: make(chan string, 8)}
}

func (rc *bodyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength >= 0 {
		rc.framing <- fmt.Sprint("content-length ", r.ContentLength)
	} else {
		rc.framing <- "chunked"
	}
	buf := make([]byte, 64<<10)
	var got []byte
	for {
		n, err := r.Body.Read(buf)
		if n > 0 && got == nil {
			rc.first <- string(buf[:n])
		}
		got = append(got, buf[:n]...)
		if err != nil {
			if err != io.EOF {
				return // the gateway aborted the request: no body recorded
			}
			break
		}
	}
	rc.bodies <- string(got)
	w.Write([]byte("ok"))
}

func recv(t *testing.T, c chan string, what string) string {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("upstream got no " + what)
	}
	return ""
}

func wantRecords(t *testing.T, rule string, got []record, want ...record) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rule: %s\nbody callbacks %v, want %v", rule, got, want)
	}
}

func TestStreamContinueForwardsEachChunk(t *testing.T) {
	const rule = "Envoy decodeData calls proxy_on_request_body for each data frame as it arrives, with no config key (body_size = the bytes buffered for the filter, end_of_stream); Continue (0) forwards them at once"
	up := newBodyRecorder()
	g := startStream(t, "cc----", "", up)
	var recs []record
	resp, _ := g.post([]string{"aaaa", "bbbbbb"}, func(i int) {
		recs = append(recs, g.next())
		if i == 0 {
			// The upstream reads the first chunk before the client sends the
			// second: the body streams, it is not buffered.
			if first := recv(t, up.first, "first chunk"); first != "aaaa" {
				t.Errorf("upstream's first read %q, want aaaa", first)
			}
		}
	})
	recs = append(recs, g.next())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	wantRecords(t, rule, recs, record{0, 4, false}, record{0, 6, false}, record{0, 0, true})
	if got := recv(t, up.bodies, "body"); got != "aaaabbbbbb" {
		t.Errorf("upstream body %q", got)
	}
	if f := recv(t, up.framing, "framing"); f != "chunked" {
		t.Errorf("framing %s, want chunked (streamed)", f)
	}
}

func TestStreamBufferAccumulatesUntilEndOfStream(t *testing.T) {
	const rule = "StopIterationAndBuffer (1) from proxy_on_request_body: Envoy buffers the data and calls again with all of it (body_size grows) until end_of_stream; nothing is forwarded before"
	up := newBodyRecorder()
	g := startStream(t, "bc----", "", up)
	var recs []record
	resp, _ := g.post([]string{"aaaa", "bbbbbb"}, func(int) { recs = append(recs, g.next()) })
	recs = append(recs, g.next())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	wantRecords(t, rule, recs, record{0, 4, false}, record{0, 10, false}, record{0, 10, true})
	if got := recv(t, up.bodies, "body"); got != "aaaabbbbbb" {
		t.Errorf("upstream body %q", got)
	}
	// Held whole until its end, the body goes upstream with its length.
	if f := recv(t, up.framing, "framing"); f != "content-length 10" {
		t.Errorf("framing %s, want content-length 10", f)
	}
}

func TestStreamBodilessNeverEntersBodyCallback(t *testing.T) {
	const rule = "a request or response without a body ends the stream with the headers (end_of_stream true in proxy_on_*_headers): the body callbacks are never called"
	g := startStream(t, "cc----", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
	}))
	for _, method := range []string{"GET", "POST"} { // a POST with Content-Length: 0
		req, _ := http.NewRequest(method, g.url, strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		select {
		case m := <-g.logs.records:
			t.Fatalf("rule: %s\n%s: the guest's body callback ran: %q", rule, method, m)
		default:
		}
	}
}

func TestStreamResponseBody(t *testing.T) {
	const rule = "Envoy encodeData calls proxy_on_response_body for each data frame of the upstream response; StopIterationAndBuffer accumulates until end_of_stream"
	chunks := []string{"resp-", "onse"}
	var g *streamGateway
	g = startStream(t, "cb----", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range chunks {
			w.Write([]byte(c))
			w.(http.Flusher).Flush()
			if rec := g.next(); rec.dir != 1 {
				t.Errorf("record %v, want a response body record", rec)
			}
		}
	}))
	resp, err := http.Get(g.url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	last := g.next()
	wantRecords(t, rule, []record{last}, record{1, 9, true})
	if string(body) != "resp-onse" || resp.ContentLength != 9 {
		t.Errorf("client got %q (length %d)", body, resp.ContentLength)
	}
}

func TestBufferEdits(t *testing.T) {
	const rule = "proxy_set_buffer_bytes is Envoy's Buffer::copyFrom (context.cc): start 0 and size 0 prepends; start 0 and size >= length replaces; start >= length appends (also past the end); any other range is BAD_ARGUMENT and leaves the body"
	for _, c := range []struct {
		edit   byte
		status uint32
		body   string
	}{
		{'a', OK, "aaaabbbbbb<A>"},
		{'g', OK, "aaaabbbbbb<A>"},
		{'p', OK, "<P>aaaabbbbbb"},
		{'r', OK, "<R>"},
		{'x', BAD_ARGUMENT, "aaaabbbbbb"},
	} {
		t.Run(string(c.edit), func(t *testing.T) {
			up := newBodyRecorder()
			g := startStream(t, "bc-"+string(c.edit)+"--", "", up)
			resp, _ := g.post([]string{"aaaa", "bbbbbb"}, func(int) { g.next() })
			g.next()
			if st := g.edit(); st != c.status {
				t.Errorf("rule: %s\nedit %c: status %d, want %d", rule, c.edit, st, c.status)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := recv(t, up.bodies, "body"); got != c.body {
				t.Errorf("rule: %s\nedit %c: upstream body %q, want %q", rule, c.edit, got, c.body)
			}
			if f, want := recv(t, up.framing, "framing"), fmt.Sprint("content-length ", len(c.body)); f != want {
				t.Errorf("framing %s, want %s", f, want)
			}
		})
	}
}

func TestBufferEditsResponse(t *testing.T) {
	const rule = "Buffer::copyFrom on the response body (buffer 1): prepend with (0, 0); the client gets the edited body with its length"
	var g *streamGateway
	g = startStream(t, "cb-p--", "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("body"))
	}))
	resp, err := http.Get(g.url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	g.next()
	if st := g.edit(); st != OK {
		t.Errorf("edit status %d", st)
	}
	if string(body) != "<P>body" || resp.ContentLength != 7 {
		t.Errorf("rule: %s\nclient got %q (length %d)", rule, body, resp.ContentLength)
	}
}

func TestPauseHoldsUntilResumedFromTick(t *testing.T) {
	const rule = "a callback that returns Pause stops the stream (Envoy StopIteration / StopIterationAndBuffer at end_of_stream) until proxy_continue_stream; a tick may resume it after proxy_set_effective_context(its id)"
	for _, modes := range []string{
		"ccp-t-", // request headers pause (a GET: the headers end the stream)
		"pc--t-", // request body pause at end of stream
		"nc--t-", // StopIterationNoBuffer holds the first chunk
	} {
		t.Run(modes, func(t *testing.T) {
			up := newBodyRecorder()
			g := startStream(t, modes, "", up)
			want := "aaaa"
			var resp *http.Response
			if modes[2] == 'p' {
				var err error
				if resp, err = http.Get(g.url); err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want = ""
			} else {
				resp, _ = g.post([]string{"aaaa"}, func(int) {})
			}
			if resp.StatusCode != 200 {
				t.Fatalf("rule: %s\nstatus %d", rule, resp.StatusCode)
			}
			if got := recv(t, up.bodies, "body"); got != want {
				t.Errorf("upstream body %q", got)
			}
		})
	}
}

func TestHeadersPauseResolvedByBody(t *testing.T) {
	const rule = "a pause (StopIteration) in proxy_on_request_headers of a request with a body does not hold it: Envoy's filter chain goes on when the filter's decodeData returns Continue"
	up := newBodyRecorder()
	g := startStream(t, "ccp---", "{ hold: 20s }", up) // no tick: only the body can resume it
	resp, _ := g.post([]string{"aaaa"}, func(int) { g.next() })
	if resp.StatusCode != 200 {
		t.Fatalf("rule: %s\nstatus %d", rule, resp.StatusCode)
	}
	if got := recv(t, up.bodies, "body"); got != "aaaa" {
		t.Errorf("upstream body %q", got)
	}
}

func TestHoldTimeoutAppliesFailurePolicy(t *testing.T) {
	const rule = "a paused stream is held, not answered; ours is bounded by limits.hold, after which the failure policy applies (Envoy holds until the route timeout)"
	for _, c := range []struct {
		policy string
		status int
	}{{"fail_closed", 503}, {"fail_open", 200}} {
		t.Run(c.policy, func(t *testing.T) {
			up := newBodyRecorder()
			g := startStream(t, "ccp---", "{ hold: 50ms }, failure_policy: "+c.policy, up)
			resp, err := http.Get(g.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("rule: %s\nstatus %d, want %d", rule, resp.StatusCode, c.status)
			}
			for {
				line := recv(t, g.logs.lines, "log line")
				if line == "wasm plugin held a stream too long" {
					break
				}
			}
		})
	}
}

func TestLocalResponseContentType(t *testing.T) {
	const rule = "Envoy's local reply (utility.cc sendLocalReply) gives a body the filter set no type content-type: text/plain, with no charset; a type the filter sets is kept"
	for _, c := range []struct{ modes, want string }{{"ccl---", "text/plain"}, {"ccL---", "app/x"}} {
		g := startStream(t, c.modes, "", newBodyRecorder())
		resp, err := http.Get(g.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || string(body) != "nope" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != c.want {
			t.Errorf("rule: %s\ncontent-type %q, want %q", rule, got, c.want)
		}
	}
}

func TestLocalResponseFromBody(t *testing.T) {
	const rule = "proxy_send_local_response from proxy_on_request_body at end_of_stream answers the client; the upstream request is not completed"
	up := newBodyRecorder()
	g := startStream(t, "lc----", "", up)
	resp, body := g.post([]string{"aaaa", "bbbb"}, func(int) { g.next() })
	if resp.StatusCode != 403 || body != "denied" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("rule: %s\ngot %d %q %q", rule, resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	select {
	case b := <-up.bodies:
		t.Errorf("the upstream got a whole body %q", b)
	default:
	}
}

func TestBufferOverMaxBody(t *testing.T) {
	const rule = "a body the guest buffers past limits.max_body is refused with 413, as Envoy's buffer limit on a request"
	up := newBodyRecorder()
	g := startStream(t, "bc----", "{ max_body: 6 }", up)
	resp, _ := g.post([]string{"aaaa", "bbbb"}, func(i int) {
		if i == 0 {
			g.next()
		}
	})
	if resp.StatusCode != 413 {
		t.Fatalf("rule: %s\nstatus %d", rule, resp.StatusCode)
	}
}

func TestPauseResumedFromAnotherStream(t *testing.T) {
	const rule = "proxy_continue_stream resumes the effective context: another stream's callback may resume a paused stream after proxy_set_effective_context(its id) (Envoy: any context of the same VM)"
	up := newBodyRecorder()
	g := startStream(t, "ccq---", "{ instances: 1, hold: 20s }", up)
	first := make(chan int, 1)
	go func() {
		resp, err := http.Get(g.url)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	select { // the first request is parked
	case m := <-g.logs.records:
		if string(m) != "P" {
			t.Fatalf("record %q, want P", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the first request was not paused")
	}
	select {
	case code := <-first:
		t.Fatalf("rule: %s\nthe paused request was answered (%d) before another stream resumed it", rule, code)
	default:
	}
	resp, err := http.Get(g.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("second request: status %d", resp.StatusCode)
	}
	if code := <-first; code != 200 {
		t.Fatalf("rule: %s\nfirst request: status %d, want 200 (resumed, not timed out)", rule, code)
	}
}
