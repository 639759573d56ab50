package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// publisher hands out the document it holds, counting the asks.
type publisher struct {
	doc  atomic.Pointer[[]byte]
	asks atomic.Int64
}

func (p *publisher) set(title string) {
	b := fmt.Appendf(nil, `{"openapi":"3.1.0","info":{"title":%q,"version":"1"},"paths":{"/a":{"get":{"summary":"read a","responses":{"200":{"description":"ok"}}}}}}`, title)
	p.doc.Store(&b)
}

func (p *publisher) PublishedAPI() filter.PublishedAPI {
	p.asks.Add(1)
	return filter.PublishedAPI{Name: "pub", Document: *p.doc.Load()}
}

func newPortal(t *testing.T, srcs *Sources, now func() time.Time) *Portal {
	t.Helper()
	c := &Config{Prefix: "/docs", Title: "T"}
	p, err := New(c, "main", srcs, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func page(t *testing.T, p *Portal) string {
	t.Helper()
	r := httptest.NewRequest("GET", "/docs/", nil)
	resp := p.Serve(r, "/docs/")
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	return string(resp.Body)
}

// Readers racing a publisher's changes always get a whole page, and the
// last version wins; an unchanged publisher costs no rebuild.
func TestPublisherChangesUnderLoad(t *testing.T) {
	pub := &publisher{}
	pub.set("rev-000")
	var srcs Sources
	if err := srcs.AddPublisher(pub, &Route{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	p := newPortal(t, &srcs, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s := p.current(); !strings.HasSuffix(strings.TrimSpace(string(s.page)), "</html>") || s.pageTag != tag(s.page) {
					t.Error("a partial page")
					return
				}
			}
		})
	}
	for i := 1; i <= 50; i++ {
		pub.set(fmt.Sprintf("rev-%03d", i))
		if body := string(p.current().page); !strings.Contains(body, fmt.Sprintf("rev-%03d", i)) {
			t.Fatalf("version %d is not served after it was published", i)
		}
	}
	close(stop)
	wg.Wait()
	if body := page(t, p); !strings.Contains(body, "rev-050") {
		t.Error("the last version is not served")
	}
	// Unchanged, the page is the same bytes: not built per request.
	a, b := p.site.Load(), p.current()
	if a != b {
		t.Error("an unchanged publisher rebuilt the site")
	}
}

// The page says "retired" once the sunset passes, without a reload.
func TestPageFollowsTheClock(t *testing.T) {
	doc, err := Parse("d.yaml", []byte("openapi: 3.1.0\ninfo: {title: D, version: '1'}\npaths: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	srcs := Sources{}
	srcs.add(&source{name: "d", doc: doc, routes: []*Route{{Name: "r", Path: "/d/*",
		Deprecation: &config.Deprecation{At: "2030-01-01", Sunset: "2030-06-30"}}}})
	var now atomic.Pointer[time.Time]
	set := func(s string) {
		tm, _ := time.Parse(time.DateOnly, s)
		now.Store(&tm)
	}
	set("2029-12-31")
	p := newPortal(t, &srcs, func() time.Time { return *now.Load() })
	for _, step := range []struct{ date, want string }{
		{"2029-12-31", "state-announced"},
		{"2030-01-01", "state-deprecated"},
		{"2030-07-01", "state-retired"},
	} {
		set(step.date)
		if body := page(t, p); !strings.Contains(body, step.want) {
			t.Errorf("%s: the page lacks %s", step.date, step.want)
		}
	}
}

func TestServeHeadAndNotModified(t *testing.T) {
	pub := &publisher{}
	pub.set("x")
	var srcs Sources
	if err := srcs.AddPublisher(pub, &Route{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	p := newPortal(t, &srcs, nil)
	resp := p.Serve(httptest.NewRequest("GET", "/docs/openapi/pub.json", nil), "/docs/openapi/pub.json")
	var d map[string]any
	if resp.Status != 200 || json.Unmarshal(resp.Body, &d) != nil || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("pub.json: %d %v", resp.Status, resp.Header)
	}
	r := httptest.NewRequest("GET", "/docs/openapi/pub.json", nil)
	r.Header.Set("If-None-Match", `W/"nope", `+resp.Header.Get("Etag"))
	if got := p.Serve(r, "/docs/openapi/pub.json"); got.Status != 304 || got.Body != nil {
		t.Errorf("revalidation: %d", got.Status)
	}
	if got := p.Serve(httptest.NewRequest("HEAD", "/docs/", nil), "/docs/"); got.Status != 200 {
		t.Errorf("HEAD: %d", got.Status)
	}
	if !p.Match("/docs") || !p.Match("/docs/x") || p.Match("/docsx") || p.Match("/doc") {
		t.Error("Match takes a prefix on segment boundaries")
	}
}

func TestEmptyPortal(t *testing.T) {
	p := newPortal(t, &Sources{}, nil)
	if body := page(t, p); !strings.Contains(body, "No API is published yet") || !strings.Contains(body, "0 APIs, 0 operations") {
		t.Errorf("empty page: %s", body)
	}
	resp := p.Serve(httptest.NewRequest("GET", "/docs/openapi.json", nil), "/docs/openapi.json")
	if _, err := Parse("merged", resp.Body); resp.Status != 200 || err != nil {
		t.Errorf("merged with no API: %d %v", resp.Status, err)
	}
}

// countingHandler counts the records logged.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// A broken new document keeps the last page, and is tried (and logged)
// once, not on every request.
func TestBrokenPublishedDocumentTriedOnce(t *testing.T) {
	pub := &publisher{}
	pub.set("good")
	var srcs Sources
	if err := srcs.AddPublisher(pub, &Route{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	logs := &countingHandler{}
	p, err := New(&Config{Prefix: "/docs", Title: "T"}, "main", &srcs, slog.New(logs), nil)
	if err != nil {
		t.Fatal(err)
	}
	broken := []byte(`{"openapi": "3.1.0"}`)
	pub.doc.Store(&broken)
	for range 5 {
		if body := page(t, p); !strings.Contains(body, "good") {
			t.Fatal("the last good page is gone")
		}
	}
	if n := logs.n.Load(); n != 1 {
		t.Errorf("%d warnings for one broken document, want 1", n)
	}
	pub.set("fixed")
	if body := page(t, p); !strings.Contains(body, "fixed") {
		t.Error("a fixed document is not shown")
	}
}
