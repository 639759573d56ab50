package wasm

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func calloutOptions(t testing.TB, name, upstream string, timeoutMS uint32) Options {
	opts, _ := testOptions(t, name)
	opts.Config = binary.LittleEndian.AppendUint32(nil, timeoutMS)
	opts.Callouts = map[string]Caller{"backend": URLCaller(upstream)}
	return opts
}

// A callout to a real upstream, whose response the guest turns into
// request headers before the stream resumes.
func TestCalloutToUpstream(t *testing.T) {
	var got atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.Path + " " + r.Host)
		w.Header().Set("X-Upstream", "up")
		_, _ = w.Write([]byte("tok-123"))
	}))
	defer up.Close()
	p := load(t, "callout", calloutOptions(t, "callout-ok", up.URL, 1000))
	out := exchange(t, p, request("GET", "http://api.example.com/orders"))
	wantStatus(t, out, 200)
	if g := out.Request.Header.Get("X-Token"); g != "tok-123" {
		t.Errorf("x-token %q, want tok-123 (logs %q)", g, logMessages(out))
	}
	if g := out.Request.Header.Get("X-Callout-Header"); g != "up" {
		t.Errorf("x-callout-header %q, want up", g)
	}
	if g, _ := got.Load().(string); g != "GET /token backend" {
		t.Errorf("the upstream saw %q", g)
	}
}

// A callout past its timeout: the guest gets 0 headers and does not
// resume, so the failure policy applies; the instance is kept.
func TestCalloutTimeoutFailurePolicy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	for _, open := range []bool{false, true} {
		opts := calloutOptions(t, "callout-slow", up.URL, 50)
		opts.FailOpen = open
		p := load(t, "callout", opts)
		start := time.Now()
		out := exchange(t, p, request("GET", "http://api.example.com/orders"))
		if el := time.Since(start); el > time.Second {
			t.Errorf("the exchange took %v: the 50ms callout timeout did not hold", el)
		}
		if out.Failed == nil || !strings.Contains(out.Failed.Error(), "deadline") {
			t.Errorf("open=%v: failure %v, want a callout deadline", open, out.Failed)
		}
		if open {
			wantStatus(t, out, 200)
			if out.Request.Header.Get("X-Token") != "" {
				t.Error("fail_open: the request got a token from a failed callout")
			}
		} else if !isPolicy503(out.Local, "callout-slow") {
			t.Errorf("fail_closed: %+v, want the policy's 503", out.Local)
		}
		if st := p.Stats(); st.InstancesDiscarded != 0 || st.Timeouts != 1 {
			t.Errorf("open=%v: stats %+v: a callout timeout must not discard the instance", open, st)
		}
	}
}

// Two exchanges pinned to one instance both have their callouts in flight
// at once: the instance is not held while an exchange waits.
func TestCalloutReleasesInstance(t *testing.T) {
	var mu sync.Mutex
	arrived := 0
	both := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if arrived++; arrived == 2 {
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
			_, _ = w.Write([]byte("together"))
		case <-time.After(3 * time.Second):
			_, _ = w.Write([]byte("alone"))
		}
	}))
	defer up.Close()
	opts := calloutOptions(t, "callout-shared", up.URL, 5000)
	opts.Instances = 1
	p := load(t, "callout", opts)
	var wg sync.WaitGroup
	tokens := make([]string, 2)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Exchange(context.Background(), Run{Request: request("GET", "http://api.example.com/")})
			if err == nil {
				tokens[i] = out.Request.Header.Get("X-Token")
			}
		}()
	}
	wg.Wait()
	if tokens[0] != "together" || tokens[1] != "together" {
		t.Errorf("tokens %q: the callouts did not overlap on one instance", tokens)
	}
	if live, _ := p.pool.Size(); live != 1 {
		t.Errorf("%d instances, want 1", live)
	}
}

func TestCalloutUndeclaredUpstream(t *testing.T) {
	opts := calloutOptions(t, "callout-undeclared", "http://127.0.0.1:1", 100)
	opts.Callouts = nil
	p := load(t, "callout", opts)
	out := exchange(t, p, request("GET", "http://api.example.com/"))
	wantStatus(t, out, 502) // the guest answers "dispatch failed" on BAD_ARGUMENT
}

// The concurrency cap: with one slot, callouts queue within their timeout.
func TestCalloutConcurrencyCap(t *testing.T) {
	var inFlight, peak atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // a deliberately slow upstream: callouts overlap unless capped
		inFlight.Add(-1)
		_, _ = w.Write([]byte("ok"))
	}))
	defer up.Close()
	opts := calloutOptions(t, "callout-cap", up.URL, 5000)
	opts.CalloutLimit = 1
	p := load(t, "callout", opts)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.Exchange(context.Background(), Run{Request: request("GET", "http://api.example.com/")})
			if err != nil || out.Request.Header.Get("X-Token") != "ok" {
				t.Errorf("exchange: %v %v", err, out.Failed)
			}
		}()
	}
	wg.Wait()
	if peak.Load() != 1 {
		t.Errorf("peak concurrency %d, want 1", peak.Load())
	}
}
