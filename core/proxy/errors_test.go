package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// checkJSONError asserts a gateway error response: the JSON shape, the
// status, the fixed reason, and nothing of the Go error underneath.
func checkJSONError(t *testing.T, resp *http.Response, status int, reason string) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d type %q body %q; want %d JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body, status)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error != reason || e.Status != status {
		t.Errorf("body %q; want error %q status %d", body, reason, status)
	}
	for _, leak := range []string{"dial", "tcp", "127.0.0.1", "refused", "timeout awaiting", "context", "EOF", "malformed"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("body %q leaks %q", body, leak)
		}
	}
}

func TestConnectRefusedIs502(t *testing.T) {
	errs := make(chan *Error, 1)
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, deadURL(t), nil), errs: errs})
	resp := do(t, mustReq(t, "GET", front.URL))
	checkJSONError(t, resp, 502, "upstream connect failure")
	<-errs
}

func TestResponseHeaderTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	up := newUpstream(t, back.URL, func(c *config.Upstream) {
		c.Timeouts.ResponseHeader = config.Duration(50 * time.Millisecond)
	})
	front := startFront(t, &gateway{p: New(Options{}), up: up})
	checkJSONError(t, do(t, mustReq(t, "GET", front.URL)), 504, "upstream timeout")
}

func TestRouteTimeoutIs504(t *testing.T) {
	release := make(chan struct{})
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	front := startFront(t, &gateway{p: New(Options{Timeout: 50 * time.Millisecond}), up: newUpstream(t, back.URL, nil)})
	checkJSONError(t, do(t, mustReq(t, "GET", front.URL)), 504, "upstream timeout")
}

func TestMalformedResponseIs502(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello")
			c.Close()
		}
	}()
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, "http://"+l.Addr().String(), nil)})
	checkJSONError(t, do(t, mustReq(t, "GET", front.URL)), 502, "bad upstream response")
}

func TestBodyCutShortAbortsClient(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only part")
		w.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	})
	errs := make(chan *Error, 1)
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil), errs: errs})
	// The client must see a failure, at the headers or in the body.
	if resp, err := http.Get(front.URL); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Error("client read a truncated body as complete")
		}
	}
	if e := <-errs; e == nil || !e.Aborted || e.Kind != KindBadResponse {
		t.Errorf("WriteResponse error %+v; want aborted bad response", e)
	}
}

func TestClientGoneAndBodyErrors(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	up := newUpstream(t, back.URL, nil)
	p := New(Options{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	_, perr := p.RoundTrip(httptest.NewRecorder(), &filter.Exchange{Request: r}, up, false)
	if perr == nil || perr.Kind != KindClientGone || perr.Status != StatusClientClosed {
		t.Errorf("canceled client: %+v", perr)
	}

	w := httptest.NewRecorder()
	r = httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 1000)))
	r.Body = http.MaxBytesReader(w, r.Body, 10)
	r.ContentLength = -1
	_, perr = p.RoundTrip(w, &filter.Exchange{Request: r}, up, false)
	if perr == nil || perr.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %+v", perr)
	} else if resp := perr.Response(); resp.Status != 413 || strings.Contains(string(resp.Body), "http:") {
		t.Errorf("oversized body response: %d %s", resp.Status, resp.Body)
	}
}

func TestStalledRequestBodyIs408(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	front := startFront(t, &gateway{p: New(Options{ReadTimeout: 100 * time.Millisecond}), up: newUpstream(t, back.URL, nil)})
	// Ten of the hundred promised bytes, then nothing: the per-progress read
	// deadline must cut the client off.
	resp, _, _ := rawExchange(t, hostOf(front), "POST / HTTP/1.1\nHost: h\nContent-Length: 100\n\n0123456789")
	checkJSONError(t, resp, http.StatusRequestTimeout, "request body timeout")
	if !resp.Close {
		t.Error("connection kept open after an unread body")
	}
}

// A body dripped a byte at a time never trips the per-progress read
// timeout; the minimum rate cuts it off once the grace is used up.
func TestDrippedRequestBodyIs408(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	front := startFront(t, &gateway{
		p:  New(Options{ReadTimeout: 10 * time.Second, MinBodyRate: 1000, MinBodyGrace: 200 * time.Millisecond}),
		up: newUpstream(t, back.URL, nil),
	})
	c, err := net.Dial("tcp", hostOf(front))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// 20 bytes/s, fifty times under the minimum, until the gateway answers.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond) // the drip's pace
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	checkJSONError(t, resp, http.StatusRequestTimeout, "request body timeout")
	if elapsed > 5*time.Second {
		t.Errorf("cut off after %v: the 10s read timeout did it, not the minimum rate", elapsed)
	}
	if !resp.Close {
		t.Error("connection kept open after an unread body")
	}
}

// gRPC calls are exempt: a streaming client may rightly pause for minutes.
// The same drip that gets a 408 above completes here.
func TestMinBodyRateExemptsGRPC(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Read", strconv.FormatInt(n, 10))
	})
	front := startFront(t, &gateway{
		p:  New(Options{ReadTimeout: 10 * time.Second, MinBodyRate: 1000, MinBodyGrace: 100 * time.Millisecond}),
		up: newUpstream(t, back.URL, nil),
	})
	c, err := net.Dial("tcp", hostOf(front))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: application/grpc+proto\r\nContent-Length: 6\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for range 6 { // 6 bytes over 0.3s: 20 bytes/s, far under the minimum
		time.Sleep(50 * time.Millisecond) // the drip's pace
		if _, err := c.Write([]byte("g")); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Read") != "6" {
		t.Errorf("gRPC drip: %d, upstream read %q bytes; want 200 and all 6", resp.StatusCode, resp.Header.Get("X-Read"))
	}
}

// The rate is the client's: time the upstream takes to ask for more of a
// body the client has long sent does not count against it. The body here is
// all there at once; the reads are spread out as a slow upstream's would be.
func TestMinBodyRateIgnoresSlowUpstream(t *testing.T) {
	read := func(gap time.Duration) error {
		b := &reqBody{
			src:     strings.NewReader(strings.Repeat("y", 200)),
			rc:      *http.NewResponseController(httptest.NewRecorder()), // no deadlines: the rate alone
			minRate: 1000, grace: 50 * time.Millisecond, want: 200,
		}
		buf := make([]byte, 10)
		for {
			if _, err := b.Read(buf); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			time.Sleep(gap) // the upstream's pace between reads
		}
	}
	// 20 reads 25ms apart: 0.5s of wall time for 200 bytes, which at 1000
	// bytes/s earn 0.2s after the 50ms grace. Counted on the wall clock,
	// this body would be cut off; the client never made anyone wait.
	if err := read(25 * time.Millisecond); err != nil {
		t.Errorf("a body waiting on its upstream was cut off: %v", err)
	}
	slow := &reqBody{
		src:     iotest.TimeoutReader(strings.NewReader("")), // never mind the data: the clock is what counts
		rc:      *http.NewResponseController(httptest.NewRecorder()),
		minRate: 1000, grace: 50 * time.Millisecond, want: 200,
		waited: 60 * time.Millisecond, // already waited past the grace for nothing
	}
	_, err := slow.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a client past its allowance: %v, want a deadline error (408)", err)
	}
	if e := clientBodyError(slow.readErr()); e.Status != http.StatusRequestTimeout {
		t.Errorf("a client past its allowance maps to %d, want 408", e.Status)
	}
}

// A client body net/http cannot decode is the client's fault, and the
// client is still there to be told: 400, not "client gone" (which writes
// nothing and lets net/http answer an empty 200).
func TestClientBodyErrorMalformedIs400(t *testing.T) {
	cases := []struct {
		err    error
		kind   Kind
		status int
	}{
		{errors.New("invalid byte in chunk length"), KindClientBody, http.StatusBadRequest},
		{errors.New("malformed chunked encoding"), KindClientBody, http.StatusBadRequest},
		{&http.MaxBytesError{Limit: 1}, KindClientBody, http.StatusRequestEntityTooLarge},
		{os.ErrDeadlineExceeded, KindClientBody, http.StatusRequestTimeout},
		{io.ErrUnexpectedEOF, KindClientGone, StatusClientClosed},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, KindClientGone, StatusClientClosed},
		{context.Canceled, KindClientGone, StatusClientClosed},
	}
	for _, c := range cases {
		e := clientBodyError(c.err)
		if e.Kind != c.kind || e.Status != c.status {
			t.Errorf("clientBodyError(%v) = kind %d status %d, want kind %d status %d", c.err, e.Kind, e.Status, c.kind, c.status)
		}
	}
	if r := clientBodyError(errors.New("x")).Reason(); r != "malformed request body" {
		t.Errorf("reason %q", r)
	}
}
