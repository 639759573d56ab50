package filter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// chunks is a body that arrives in the given reads.
type chunks struct{ parts []string }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

// streamer is a native filter that streams bodies: it logs each call, and
// buffers, edits or answers as told.
type streamer struct {
	name    string
	log     *[]string
	buffer  bool   // BodyBuffer until the end
	suffix  string // appended at the end
	each    string // appended to every chunk
	upper   bool   // upper-cases every chunk in place
	answer  int    // answers with this status at the end
	noNeeds bool   // implements the interface without declaring it
}

func (s *streamer) OnRequest(*Exchange) *Response { return nil }
func (s *streamer) Needs() Needs {
	if s.noNeeds {
		return Needs{}
	}
	return Needs{StreamRequestBody: true, StreamResponseBody: true, MaxBody: 64}
}

func (s *streamer) body(b *Body) (BodyAction, *Response) {
	*s.log = append(*s.log, fmt.Sprintf("%s:%q:%v", s.name, b.Buf, b.End))
	if s.upper {
		copy(b.Buf, bytes.ToUpper(b.Buf))
	}
	b.Buf = append(b.Buf, s.each...)
	if b.End && s.suffix != "" {
		b.Buf = append(b.Buf, s.suffix...)
	}
	if b.End && s.answer != 0 {
		return BodyContinue, Error(s.answer, "no")
	}
	if s.buffer {
		return BodyBuffer, nil
	}
	return BodyContinue, nil
}

func (s *streamer) OnRequestBody(_ *Exchange, b *Body) (BodyAction, *Response)  { return s.body(b) }
func (s *streamer) OnResponseBody(_ *Exchange, b *Body) (BodyAction, *Response) { return s.body(b) }

func TestBodyStreamThroughFilters(t *testing.T) {
	var log []string
	c := NewChain([]Filter{
		&streamer{name: "a", log: &log, upper: true},
		&streamer{name: "b", log: &log, buffer: true, suffix: "!"},
		&streamer{name: "plain", log: &log, noNeeds: true}, // not declared: not called
	})
	if !c.StreamsRequestBody(3) || c.StreamsRequestBody(0) {
		t.Fatal("StreamsRequestBody")
	}
	bs := c.RequestBodyStream(&Exchange{}, &chunks{parts: []string{"ab", "cd"}}, 4, 3)
	out, err := io.ReadAll(bs)
	if err != nil || string(out) != "ABCD!" {
		t.Fatalf("out %q, err %v", out, err)
	}
	want := []string{`a:"ab":false`, `b:"AB":false`, `a:"cd":true`, `b:"ABCD":true`}
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Errorf("calls %q, want %q", log, want)
	}

	// The response runs in reverse order.
	log = nil
	bs = c.ResponseBodyStream(&Exchange{}, &chunks{parts: []string{"xy"}}, -1, 3)
	out, _ = io.ReadAll(bs)
	want = []string{`b:"xy":false`, `b:"xy":true`, `a:"xy!":true`}
	if string(out) != "XY!" || fmt.Sprint(log) != fmt.Sprint(want) {
		t.Errorf("response %q, calls %q, want %q", out, log, want)
	}
}

func TestStreamRequestPrime(t *testing.T) {
	var log []string
	// A filter that buffers to the end: the body ends in Prime and goes on
	// whole, with its new length.
	c := NewChain([]Filter{&streamer{name: "b", log: &log, buffer: true, suffix: "!"}})
	r := httptest.NewRequest("POST", "/", strings.NewReader("hello"))
	x := &Exchange{Request: r}
	bs, resp := c.StreamRequest(x, 1)
	if resp != nil || !bs.Ended() || string(x.RequestBody) != "hello!" || r.ContentLength != 6 {
		t.Fatalf("resp %v, body %q, length %d", resp, x.RequestBody, r.ContentLength)
	}

	// A filter that edits the length as the body streams: the body goes on
	// chunked, without its old Content-Length.
	c = NewChain([]Filter{&streamer{name: "s", log: &log, each: "?"}})
	r = httptest.NewRequest("POST", "/", &chunks{parts: []string{"ab", "cd"}})
	r.ContentLength = 4
	r.Header.Set("Content-Length", "4")
	x = &Exchange{Request: r}
	bs, resp = c.StreamRequest(x, 1)
	if resp != nil || bs.Ended() || r.ContentLength != -1 || r.Header.Get("Content-Length") != "" {
		t.Fatalf("resp %v, ended %v, length %d", resp, bs.Ended(), r.ContentLength)
	}
	out, err := io.ReadAll(r.Body)
	if err != nil || string(out) != "ab?cd?" {
		t.Fatalf("body %q, err %v", out, err)
	}
}

func TestStreamLengthChangedAfterItWentOut(t *testing.T) {
	var log []string
	c := NewChain([]Filter{&streamer{name: "s", log: &log, suffix: "?"}})
	r := httptest.NewRequest("POST", "/", &chunks{parts: []string{"ab", "cd"}})
	r.ContentLength = 4
	x := &Exchange{Request: r}
	if _, resp := c.StreamRequest(x, 1); resp != nil {
		t.Fatal(resp)
	}
	// The first chunk went out unedited under Content-Length 4; the edit at
	// the end cannot be sent as it: the stream fails rather than lie.
	if _, err := io.ReadAll(r.Body); !errors.Is(err, errLengthChanged) {
		t.Fatalf("err %v, want errLengthChanged", err)
	}
}

func TestStreamLocalAndLimit(t *testing.T) {
	var log []string
	c := NewChain([]Filter{&streamer{name: "a", log: &log, answer: http.StatusForbidden}})
	r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
	_, resp := c.StreamRequest(&Exchange{Request: r}, 1)
	if resp == nil || resp.Status != http.StatusForbidden {
		t.Fatalf("resp %v", resp)
	}

	// Past MaxBody (64) of buffered body: 413 for a request, 502 for a response.
	c = NewChain([]Filter{&streamer{name: "b", log: &log, buffer: true}})
	big := &chunks{parts: []string{strings.Repeat("a", 40), strings.Repeat("b", 40)}}
	r = httptest.NewRequest("POST", "/", big)
	r.ContentLength = 80
	_, resp = c.StreamRequest(&Exchange{Request: r}, 1)
	if resp == nil || resp.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("resp %v", resp)
	}
	big = &chunks{parts: []string{strings.Repeat("a", 40), strings.Repeat("b", 40)}}
	_, resp = c.StreamResponse(&Exchange{}, &Response{Header: http.Header{}}, big, 80, 1)
	if resp == nil || resp.Status != http.StatusBadGateway {
		t.Fatalf("resp %v", resp)
	}
}

func TestChainWithoutStreamingFilters(t *testing.T) {
	var log []string
	c := NewChain([]Filter{&recorder{name: "r", log: &log}})
	if c.StreamsRequestBody(1) || c.StreamsResponseBody(1) || c.reqBody != nil {
		t.Fatal("a chain without streaming filters streams nothing")
	}
}

// readSizes is a body source recording the size of each read.
type readSizes struct {
	chunks
	sizes []int
}

func (r *readSizes) Read(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	return r.chunks.Read(p)
}

// A body shorter than a chunk is read with a buffer of its own length (one
// read, not a 32 KiB buffer per exchange); one of unknown or larger length
// with a whole chunk; the bytes are the same either way.
func TestBodyStreamReadBufferFitsTheBody(t *testing.T) {
	var log []string
	c := NewChain([]Filter{&streamer{name: "a", log: &log}})
	for _, tc := range []struct {
		body     string
		declared int64
		want     int
	}{
		{"hello", 5, 5},
		{strings.Repeat("x", 1024), 1024, 1024},
		{"hello", -1, chunkSize},
		{strings.Repeat("y", chunkSize+7), chunkSize + 7, chunkSize},
	} {
		src := &readSizes{chunks: chunks{parts: []string{tc.body}}}
		out, err := io.ReadAll(c.ResponseBodyStream(&Exchange{}, src, tc.declared, 1))
		if err != nil || string(out) != tc.body {
			t.Fatalf("declared %d: out %d bytes, err %v", tc.declared, len(out), err)
		}
		if len(src.sizes) == 0 || src.sizes[0] != tc.want {
			t.Errorf("declared %d: reads of %v bytes, want the first of %d", tc.declared, src.sizes, tc.want)
		}
	}
}
