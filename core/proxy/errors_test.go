package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
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
