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
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	_ "github.com/wasmgate/wasmgate/filters/all" // the filters routes name
	"github.com/wasmgate/wasmgate/internal/gwtest"
	"github.com/wasmgate/wasmgate/test/internal/browsertest"
)

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
plugins:
  # The CLI's test guest: /trap traps, everything else passes. Two
  # plugins of it, so the traps (and the pool's back-off that follows)
  # leave probe's instances alone.
  probe: { source: %[4]q }
  trappy: { source: %[4]q }
routes:
  - { name: api, match: { prefix: /api/ }, filters: [{ chain: edge }], upstream: live }
  - { name: doomed-route, match: { prefix: /doomed/ }, upstream: doomed }
  - { name: plug, match: { prefix: /plug/ }, filters: [{ wasm: probe }], upstream: live }
  - { name: trap, match: { path: /trap }, filters: [{ wasm: trappy }], upstream: live }
  - name: limited
    match: { prefix: /limited/ }
    filters: [{ rate_limit: { key: client_ip, rate: 1/s, burst: 1 } }]
    upstream: live
  - name: private
    match: { prefix: /private/ }
    filters: [{ jwt: { secret: "console-test-secret-0123456789abcdef", allow_any_issuer: true, allow_any_audience: true } }]
    upstream: live
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
	browsertest.Chromium(t) // skip before starting a gateway when there is no browser

	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(live.Close)
	doomed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(doomed.Close)
	probeWasm, err := filepath.Abs(filepath.Join("..", "..", "cmd", "wasmgate", "testdata", "probe", "probe.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	good := fmt.Sprintf(config, live.URL, doomed.URL, manyRoutes(120), probeWasm)
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
		// Mostly the api route; the others in turn: a plugin, a rate limit
		// that refuses (429) most of what it gets, a JWT check that
		// refuses (401) requests without a token, and a plugin trap.
		paths := []string{"/plug/x", "/limited/x", "/private/x", "/limited/x", "/plug/x", "/private/x", "/trap"}
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				path := "/api/items"
				if i%3 == 0 {
					path = paths[(i/3)%len(paths)]
				}
				if resp, err := http.Get(base + path); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	t.Cleanup(func() { stopTraffic(); wg.Wait() })

	bctx := browsertest.Start(t, 1280, 900)

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
	if s := text("#ov-cards"); !strings.Contains(s, "ROUTES\n126") || !strings.Contains(s, "UPSTREAMS\n2") {
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
		until(`document.querySelector("#routes-count").textContent === "10 of 126 routes"`))
	run("page is gone for one page", until(`document.querySelector("#routes-pager").hidden`))

	// The route table is fetched again only when the config generation
	// changes: the page polls /status, and /routes after a reload only.
	run("count the page's fetches", chromedp.Evaluate(`(() => {
		window.fetched = { routes: 0, status: 0 };
		const f = window.fetch;
		window.fetch = (url, opts) => {
			const path = String(url).replace(/[?#].*$/, "");
			if (path.endsWith("/routes")) window.fetched.routes++;
			if (path.endsWith("/status")) window.fetched.status++;
			return f(url, opts);
		};
		const search = document.querySelector("#routes-search");
		search.value = "";
		search.dispatchEvent(new Event("input"));
	})()`, nil), until(`window.fetched.status >= 3`))
	var routesFetches int
	run("read the count", chromedp.Evaluate(`window.fetched.routes`, &routesFetches))
	if routesFetches != 0 {
		t.Errorf("the routes view fetched /routes %d times in 3 refreshes of one generation, want 0", routesFetches)
	}
	more := good + "  - { name: added-later, match: { path: /added }, respond: { status: 204 } }\n"
	if err := os.WriteFile(file, []byte(more), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	run("see the reload's new route", until(`window.fetched.routes === 1`),
		until(`document.querySelector("#routes-count").textContent === "127 routes"`))
	run("find it", chromedp.SendKeys("#routes-search", "added-later", chromedp.ByQuery),
		chromedp.WaitVisible(`#routes-table tr[data-route="added-later"]`, chromedp.ByQuery))

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
	// Plugins: probe's instances, exchanges and memory; the traps /trap
	// causes in trappy.
	row := `#plugins-table tr[data-plugin="probe"]`
	cell := func(row string, n int) string {
		return fmt.Sprintf(`document.querySelector('%s td:nth-child(%d)')?.textContent`, row, n)
	}
	trappy := `#plugins-table tr[data-plugin="trappy"]`
	run("open the plugins", chromedp.Navigate(admin+"/ui/#plugins"), chromedp.WaitVisible(row, chromedp.ByQuery),
		until(`parseInt(`+cell(row, 4)+`) > 0`),    // exchanges
		until(`parseInt(`+cell(trappy, 5)+`) > 0`)) // traps
	if s := text(row + " td:nth-child(2)"); s != "plug" {
		t.Errorf("the probe plugin's routes: %q, want plug", s)
	}
	if s := text(row + " td:nth-child(5)"); s != "0" {
		t.Errorf("the probe plugin's traps: %q, want 0", s)
	}
	if s := text(row + " td:nth-child(3)"); !regexp.MustCompile(`^[1-9]\d* / [1-9]\d*$`).MatchString(s) {
		t.Errorf("the probe plugin's instances: %q, want live / bound", s)
	}
	if s := text(row + " td:nth-child(9)"); !regexp.MustCompile(`^[\d.]+ (KiB|MiB)$`).MatchString(s) {
		t.Errorf("the probe plugin's memory: %q", s)
	}

	// Refusals: the JWT check's 401s and the rate limit's 429s, counted by
	// route and filter, and summed on the overview.
	run("open the refusals", chromedp.Navigate(admin+"/ui/#refusals"),
		chromedp.WaitVisible(`#refusals-table tr[data-route="private"][data-status="401"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#refusals-table tr[data-route="limited"][data-status="429"]`, chromedp.ByQuery))
	if s := text(`#refusals-table tr[data-route="private"][data-status="401"]`); !strings.Contains(s, "jwt") {
		t.Errorf("the private route's refusals: %q, want the jwt filter", s)
	}
	if s := text(`#refusals-table tr[data-route="limited"][data-status="429"]`); !strings.Contains(s, "rate_limit") {
		t.Errorf("the limited route's refusals: %q, want the rate_limit filter", s)
	}
	var cards []int
	run("read the refusal sums", chromedp.Evaluate(`[...document.querySelectorAll("#rf-cards .value")].map((e) => parseInt(e.textContent))`, &cards))
	if len(cards) != 3 || cards[0] <= 0 || cards[1] <= 0 {
		t.Errorf("refusal cards %v, want auth and rate-limit counts above 0", cards)
	}
	run("search the refusals", chromedp.SendKeys("#refusals-search", "429", chromedp.ByQuery),
		until(`document.querySelectorAll("#refusals-table tr[data-status]").length === 1`))
	run("see them on the overview", chromedp.Navigate(admin+"/ui/#overview"),
		until(`/^[1-9]\d* \/ [1-9]\d*$/.test(document.querySelector("#ov-refused")?.textContent)`))

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
	if s := text("#reloads-table tbody tr:first-child"); !strings.Contains(s, "missing") || !strings.Contains(s, "generation 2") {
		t.Errorf("the newest load: %q, want the error naming the missing upstream, generation 2 serving", s)
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
	for view, shown := range map[string]string{
		"upstreams": `[data-upstream="live"]`,
		"plugins":   `#plugins-table tr[data-plugin="probe"]`,
		"refusals":  `#refusals-table tr[data-route="private"]`,
	} {
		var fits bool
		run("narrow window, "+view, chromedp.EmulateViewport(390, 800), chromedp.Navigate(admin+"/ui/#"+view),
			chromedp.WaitVisible(shown, chromedp.ByQuery),
			chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits))
		if !fits {
			t.Errorf("the %s view is wider than a 390px window", view)
		}
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
