// Package console tests the admin console (/ui/) in a real browser:
// Debian's chromium, headless, driven over the DevTools protocol by
// chromedp, against an in-process gateway with traffic flowing. It asserts
// what is on screen, as an operator would read it.
//
// Without chromium the test is skipped, saying so, except under CI (the CI
// environment variable set), where it fails: .ci/run installs chromium.
package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	_ "github.com/wasmgate/wasmgate/filters/all" // the filters routes name
	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// browser finds chromium, or skips (fails under CI) saying how to get it.
func browser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: drives a browser")
	}
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	why := "no chromium found (apt-get install -y chromium, or set CHROMIUM to a Chrome binary)"
	if os.Getenv("CI") != "" {
		t.Fatal(why + "; under CI a browser test fails rather than skips")
	}
	t.Skip(why)
	return ""
}

const config = `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
upstreams:
  live:
    targets: [{ url: %[1]q }]
  doomed:
    targets: [{ url: %[2]q }]
    health: { active: { path: /healthz, interval: 200ms, timeout: 150ms, unhealthy_threshold: 1 } }
filter_chains:
  edge: [{ headers: { request: { set: { X-Edge: "1" } } } }]
routes:
  - { name: api, match: { prefix: /api/ }, filters: [{ chain: edge }], upstream: live }
  - { name: doomed-route, match: { prefix: /doomed/ }, upstream: doomed }
%[3]s`

// manyRoutes are enough routes to need paging.
func manyRoutes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - { name: extra-%03d, match: { path: /extra/%03d }, respond: { status: 204 } }\n", i, i)
	}
	return b.String()
}

func TestConsoleInABrowser(t *testing.T) {
	chromium := browser(t)

	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(live.Close)
	doomed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(doomed.Close)
	good := fmt.Sprintf(config, live.URL, doomed.URL, manyRoutes(120))
	g, base, file := gwtest.Serve(t, good)
	admin := "http://" + g.AdminAddr().String()

	// Traffic flows for the whole test, paced, not timed against.
	ctx, stopTraffic := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if resp, err := http.Get(base + "/api/items"); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	t.Cleanup(func() { stopTraffic(); wg.Wait() })

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	defer cancelTimeout()

	// run runs browser actions as one step of the test, failing it with what
	// was being done.
	run := func(step string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// until waits for a JS expression to hold on the page.
	until := func(expr string) chromedp.Action {
		return chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(30*time.Second))
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}

	// Overview: what runs.
	run("open the overview", chromedp.Navigate(admin+"/ui/"), chromedp.WaitVisible("#ov-cards .card", chromedp.ByQuery),
		until(`document.querySelector("#ov-cards").textContent.includes("Config generation")`))
	if s := text("#ov-cards"); !strings.Contains(s, "ROUTES\n122") || !strings.Contains(s, "UPSTREAMS\n2") {
		t.Errorf("overview cards: %q", s)
	}

	// Routes: the expanded chain, the target, search and paging.
	run("open the routes", chromedp.Navigate(admin+"/ui/#routes"),
		chromedp.WaitVisible(`#routes-table tr[data-route="api"]`, chromedp.ByQuery))
	if s := text(`#routes-table tr[data-route="api"]`); !strings.Contains(s, "/api/*") || !strings.Contains(s, "headers") || !strings.Contains(s, "live") {
		t.Errorf("the api route's row: %q, want its prefix, its chain expanded (headers) and its upstream", s)
	}
	if s := text("#routes-page"); s != "page 1 of 3" {
		t.Errorf("pager: %q", s)
	}
	run("search the routes", chromedp.SendKeys("#routes-search", "extra-11", chromedp.ByQuery),
		until(`document.querySelector("#routes-count").textContent === "10 of 122 routes"`))
	run("page is gone for one page", until(`document.querySelector("#routes-pager").hidden`))

	// Upstreams: a target turns unhealthy when its server goes away.
	run("open the upstreams", chromedp.Navigate(admin+"/ui/#upstreams"),
		until(`document.querySelector('[data-upstream="doomed"] tr[data-target] td:nth-child(2)')?.textContent === "healthy"`))
	doomed.CloseClientConnections()
	doomed.Close()
	run("see the killed target unhealthy",
		until(`document.querySelector('[data-upstream="doomed"] tr[data-target] td:nth-child(2)')?.textContent === "unhealthy"`))
	if s := text(`[data-upstream="doomed"] .up-head`); !strings.Contains(s, "0/1 available") {
		t.Errorf("doomed's header: %q", s)
	}
	if s := text(`[data-upstream="live"] tr[data-target] td:nth-child(2)`); s != "healthy" {
		t.Errorf("the live target: %q", s)
	}

	// Traffic: the api route's chart has data and its table row a rate.
	run("chart the api route", chromedp.Navigate(admin+"/ui/#traffic/api"),
		until(`document.querySelector("#tr-title").textContent === "Route api"`),
		until(`Number(document.querySelector("#tr-rps polyline")?.dataset.points) >= 2`),
		until(`parseFloat(document.querySelector('#traffic-table tr[data-route="api"] td:nth-child(2)')?.textContent) > 0`))
	var points string
	run("read the chart", chromedp.AttributeValue("#tr-rps polyline", "points", &points, nil, chromedp.ByQuery))
	if !strings.Contains(points, ",") {
		t.Errorf("rps polyline points %q", points)
	}
	// A rejected reload shows on the overview with the error, the old
	// generation still serving.
	bad := strings.Replace(good, "upstream: live", "upstream: missing", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err == nil {
		t.Fatal("a route to a missing upstream reloaded")
	}
	run("see the rejected reload", chromedp.Navigate(admin+"/ui/#overview"),
		until(`document.querySelector("#reloads-table")?.textContent.includes("rejected")`))
	if s := text("#reloads-table tbody tr:first-child"); !strings.Contains(s, "missing") || !strings.Contains(s, "generation 1") {
		t.Errorf("the newest load: %q, want the error naming the missing upstream, generation 1 serving", s)
	}

	// With admin.auth the page asks for the token, then shows the data.
	const token = "console-test-token-0123456789"
	locked, _, _ := gwtest.Serve(t, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0", auth: { tokens: [{ name: ops, token: "`+token+`" }] } }
routes: [{ name: only, match: { prefix: / }, respond: { status: 204 } }]
`)
	run("open a console that needs a token", chromedp.Navigate("http://"+locked.AdminAddr().String()+"/ui/#routes"),
		chromedp.WaitVisible("#token-input", chromedp.ByQuery))
	run("give the token", chromedp.SendKeys("#token-input", token, chromedp.ByQuery), chromedp.Click("#token-form button", chromedp.ByQuery),
		chromedp.WaitVisible(`#routes-table tr[data-route="only"]`, chromedp.ByQuery), until(`document.querySelector("#token").hidden`))

	// A phone-wide window: nothing wider than the window but the tables,
	// which scroll inside their own boxes.
	var fits bool
	run("narrow window", chromedp.EmulateViewport(390, 800), chromedp.Navigate(admin+"/ui/#upstreams"),
		until(`document.querySelector('[data-upstream="live"]') !== null`),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits))
	if !fits {
		t.Error("the upstreams view is wider than a 390px window")
	}
	// Dark mode follows the system's preference.
	var bg string
	run("dark mode", chromedp.EmulateViewport(1280, 900),
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Navigate(admin+"/ui/#overview"), chromedp.WaitVisible("#ov-cards .card", chromedp.ByQuery),
		chromedp.Evaluate(`getComputedStyle(document.body).backgroundColor`, &bg))
	if bg != "rgb(15, 19, 25)" {
		t.Errorf("body background in dark mode: %s", bg)
	}
	run("light mode", emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}))

	// WASMGATE_SCREENSHOT=$PWD/docs/console.png (an absolute path: tests
	// run in test/console) takes the README's picture.
	if os.Getenv("WASMGATE_SCREENSHOT") != "" {
		var png []byte
		run("screenshot", chromedp.Navigate(admin+"/ui/#overview"),
			until(`Number(document.querySelector("#ov-chart polyline")?.dataset.points) >= 2`),
			until(`document.querySelector("#reloads-table")?.textContent.includes("rejected")`),
			chromedp.FullScreenshot(&png, 100)) // 100: PNG
		if err := os.WriteFile(os.Getenv("WASMGATE_SCREENSHOT"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
