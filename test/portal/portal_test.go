// Package portal tests the developer portal (portal:) in a real browser:
// Debian's chromium, headless, driven over the DevTools protocol by
// chromedp, against an in-process gateway whose routes carry the real auth
// and rate-limit filters. It asserts what a developer reading the page
// sees and can do.
//
// Without chromium the test is skipped, saying so, except under CI (the CI
// environment variable set), where it fails: .ci/run installs chromium.
package portal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	_ "github.com/wasmgate/wasmgate/filters/all" // the filters routes name
	"github.com/wasmgate/wasmgate/internal/gwtest"
	"github.com/wasmgate/wasmgate/test/internal/browsertest"
)

// The document is core/portal's test document: nested objects, arrays,
// oneOf, allOf, formats, path/query/header parameters, and HTML in its
// descriptions and examples.
const config = `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
portal: { title: "Acme developer portal", description: "Everything Acme serves, documented." }
versioning: { by: path }
consumers:
  - name: partner
    api_keys: [{ sha256: d82f359e1ca1b67b3d44b7144376287bdc51662dfbe9639dfc2887a8cc9667bf }]
routes:
  - name: orders-v2
    version: v2
    match: { prefix: /orders }
    docs: { file: %[1]q, name: orders }
    filters:
      - jwt:
          issuer: https://auth.acme.test
          audiences: [orders-api]
          scopes: [orders:read]
          secret: "portal-test-secret-0123456789abcdef"
      - rate_limit: { key: consumer, rate: 100/s, burst: 200 }
    respond: { body: "v2" }
  - name: orders-v1
    version: v1
    match: { prefix: /orders }
    docs: { file: %[1]q, name: orders-legacy }
    deprecation: { at: 2025-01-01, sunset: 2999-06-30, link: "https://acme.test/migrate-to-v2" }
    filters:
      - apikey: { header: X-Partner-Key }
    respond: { body: "v1" }
`

func TestPortalInABrowser(t *testing.T) {
	browsertest.Chromium(t) // skip before starting a gateway when there is no browser
	doc, err := filepath.Abs(filepath.Join("..", "..", "core", "portal", "testdata", "orders.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, base, _ := gwtest.Serve(t, strings.ReplaceAll(config, "%[1]q", `"`+doc+`"`))
	portal := base + "/docs/"

	bctx := browsertest.Start(t, 1360, 900)

	run := func(step string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(bctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	until := func(expr string) chromedp.Action {
		return chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(30*time.Second))
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}
	eval := func(step, expr string, out any) {
		t.Helper()
		run(step, chromedp.Evaluate(expr, out))
	}

	light := emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}})
	run("open the portal", light, chromedp.Navigate(portal),
		chromedp.WaitVisible(`section.api[data-api="orders"]`, chromedp.ByQuery))

	// The page lists both APIs, by title, with their operations.
	if s := text("#api-count"); s != "2 APIs, 10 operations" {
		t.Errorf("count: %q", s)
	}
	var titles []string
	eval("read the APIs", `[...document.querySelectorAll("section.api h2")].map(h => h.textContent)`, &titles)
	if len(titles) != 2 || titles[0] != "Orders API" {
		t.Errorf("API titles %v", titles)
	}

	// What the gateway asks of callers, from its own filters.
	v2 := text(`section[data-api="orders"] .gateway`)
	for _, want := range []string{"JWT", "Authorization: Bearer <token>", "Issuer https://auth.acme.test", "Audience orders-api",
		"Scopes orders:read", "Rate limit", "Rate 100/s", "Burst 200", "Per consumer", "/v2/orders/*", "version v2"} {
		if !strings.Contains(v2, want) {
			t.Errorf("the v2 route's panel lacks %q: %q", want, v2)
		}
	}
	v1 := text(`section[data-api="orders-legacy"] .gateway`)
	for _, want := range []string{"API key", "Header X-Partner-Key", "deprecated from 2025-01-01", "sunset 2999-06-30", "what changes"} {
		if !strings.Contains(v1, want) {
			t.Errorf("the v1 route's panel lacks %q: %q", want, v1)
		}
	}
	var link string
	run("read the deprecation link", chromedp.AttributeValue(`section[data-api="orders-legacy"] [data-deprecation] a`, "href", &link, nil, chromedp.ByQuery))
	if link != "https://acme.test/migrate-to-v2" {
		t.Errorf("deprecation link %q", link)
	}

	// An operation is closed until clicked; then its schema shows, with
	// the oneOf's options and constraints.
	op := "#api-orders-post-orders"
	var shown bool
	eval("schema hidden", `document.querySelector("`+op+` .schema-box").checkVisibility()`, &shown)
	if shown {
		t.Error("a closed operation's schema is visible")
	}
	run("open POST /orders", chromedp.Click(op+" > summary", chromedp.ByQuery),
		chromedp.WaitVisible(op+" .schema-box", chromedp.ByQuery))
	var schema string
	eval("read the operation", `document.querySelector("`+op+` .op-body").innerText`, &schema)
	schema = strings.ToLower(schema) // headings are upper case by CSS
	for _, want := range []string{"Request body", "application/json", "item", "string", "required", "at most 100 characters",
		"payment", "one of", "Responses", "201", "Placed.", `"towel"`} {
		if !strings.Contains(schema, strings.ToLower(want)) {
			t.Errorf("POST /orders, open, lacks %q", want)
		}
	}
	// The schema tree unfolds further: Card's fields inside payment.
	if s := text(op + " .schema-box"); strings.Contains(s, "last4") {
		t.Errorf("payment's options are unfolded before a click: %q", s)
	}
	run("unfold payment", chromedp.Click(op+` .schema-box li.field details.node li.field details.node > summary`, chromedp.ByQuery),
		chromedp.Click(op+` .schema-box li.variants details.node > summary`, chromedp.ByQuery))
	if s := text(op + " .schema-box"); !strings.Contains(s, "last4") || !strings.Contains(s, "Invoice") || !strings.Contains(s, "pattern ^[0-9]{4}$") {
		t.Errorf("unfolded payment: %q", s)
	}

	// A link to an operation opens it.
	run("follow a link", chromedp.Click(`a[data-op-link="api-orders-get-customers-id"]`, chromedp.ByQuery),
		until(`document.querySelector("#api-orders-get-customers-id").open`))

	// Search narrows the operations.
	run("search", chromedp.SendKeys("#search", "cancel", chromedp.ByQuery),
		until(`[...document.querySelectorAll("details.op")].filter(e => e.checkVisibility()).length === 2`))
	var paths []string
	eval("read the found", `[...document.querySelectorAll("details.op")].filter(e => e.checkVisibility()).map(e => e.dataset.method + " " + e.dataset.path)`, &paths)
	if len(paths) != 2 || paths[0] != "delete /orders/{id}" {
		t.Errorf("found %v, want the DELETE of each API", paths)
	}

	// Nothing from the document ran: the HTML in its descriptions and
	// examples is text, and the only script is the portal's.
	var scripts, imgs int
	eval("count scripts", `document.scripts.length`, &scripts)
	eval("count images", `document.querySelectorAll("img").length`, &imgs)
	if scripts != 1 || imgs != 0 {
		t.Errorf("%d scripts and %d images on the page, want 1 and 0", scripts, imgs)
	}
	if s := text(`section[data-api="orders"] .api-head + p + p + p`); !strings.Contains(s, `<script>alert("info")</script>`) {
		t.Errorf("the description's markup is not shown as text: %q", s)
	}

	// Light by the system's preference, dark by the toggle, which sticks.
	bg := func() string {
		var s string
		eval("read the background", `getComputedStyle(document.body).backgroundColor`, &s)
		return s
	}
	theme := func() string {
		var s string
		eval("read the theme", `document.documentElement.dataset.theme`, &s)
		return s
	}
	if theme() != "light" || bg() != "rgb(247, 248, 250)" {
		t.Errorf("light: theme %q background %s", theme(), bg())
	}
	run("toggle dark", chromedp.Click("#theme", chromedp.ByQuery), until(`document.documentElement.dataset.theme === "dark"`))
	if bg() != "rgb(14, 18, 24)" {
		t.Errorf("dark background: %s", bg())
	}
	run("reload", chromedp.Reload(), chromedp.WaitVisible(`section.api`, chromedp.ByQuery))
	if theme() != "dark" {
		t.Error("the chosen theme did not survive a reload")
	}
	run("toggle light", chromedp.Click("#theme", chromedp.ByQuery), until(`document.documentElement.dataset.theme === "light"`))
	// Without a choice, the system's dark preference applies.
	run("forget the choice", chromedp.Evaluate(`localStorage.clear()`, nil),
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Reload(), chromedp.WaitVisible(`section.api`, chromedp.ByQuery))
	if theme() != "dark" || bg() != "rgb(14, 18, 24)" {
		t.Errorf("system dark: theme %q background %s", theme(), bg())
	}

	// A phone-wide window: nothing wider than the window.
	var fits bool
	run("narrow window", chromedp.EmulateViewport(390, 800), chromedp.Reload(), chromedp.WaitVisible(`section.api`, chromedp.ByQuery),
		chromedp.Click(op+" > summary", chromedp.ByQuery),
		chromedp.Evaluate(`document.documentElement.scrollWidth <= window.innerWidth`, &fits))
	if !fits {
		t.Error("the portal is wider than a 390px window")
	}

	// WASMGATE_SCREENSHOT=$PWD/docs/portal.png (an absolute path: tests
	// run in test/portal) takes the README's picture.
	if out := os.Getenv("WASMGATE_SCREENSHOT"); out != "" {
		var png []byte
		run("screenshot", chromedp.EmulateViewport(1360, 1700), light, chromedp.Evaluate(`localStorage.clear()`, nil),
			chromedp.Navigate(portal), chromedp.WaitVisible(`section.api`, chromedp.ByQuery),
			chromedp.Click(op+" > summary", chromedp.ByQuery), chromedp.WaitVisible(op+" .schema-box", chromedp.ByQuery),
			chromedp.Evaluate(`window.scrollTo(0, 0)`, nil), chromedp.CaptureScreenshot(&png))
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
