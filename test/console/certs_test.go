package console

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wasmgate/wasmgate/internal/gwtest"
	"github.com/wasmgate/wasmgate/internal/pebbletest"
	"github.com/wasmgate/wasmgate/test/internal/browsertest"
)

// The overview's Certificates table shows a tls.acme certificate obtained
// from pebble: its name, issuer and expiry.
func TestConsoleCertificates(t *testing.T) {
	browsertest.Chromium(t)
	ports := pebbletest.FreePorts(t, "tcp", 2)
	httpPort, tlsPort := ports[0], ports[1]
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	cfg := fmt.Sprintf(`
listeners:
  - { name: main, address: "127.0.0.1:%d" }
  - name: tls
    address: "127.0.0.1:%d"
    tls: { acme: { directory: %q, ca_root: %q, names: [console.example.test], store: { dir: %q } } }
admin: { address: "127.0.0.1:0" }
routes:
  - { name: hello, respond: { status: 200, body: "hi" } }
`, httpPort, tlsPort, p.Directory, p.CAFile, t.TempDir())
	g, _, _ := gwtest.Serve(t, cfg)
	admin := "http://" + g.AdminAddr().String()
	bctx := browsertest.Start(t, 1280, 900)
	var row string
	err := chromedp.Run(bctx, chromedp.Navigate(admin+"/ui/"),
		chromedp.WaitVisible("#ov-cards .card", chromedp.ByQuery),
		// The overview refreshes itself; the row shows once the
		// certificate is obtained.
		chromedp.Poll(`document.querySelector("#certs-table tbody tr")?.textContent.includes("Pebble")`, nil, chromedp.WithPollingTimeout(60*time.Second)),
		chromedp.Text("#certs-table tbody tr", &row, chromedp.ByQuery))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"console.example.test", "Pebble Intermediate CA", "acme"} {
		if !strings.Contains(row, want) {
			t.Errorf("certificates row %q lacks %q", row, want)
		}
	}
	if strings.Contains(row, "not obtained") || !strings.ContainsAny(row, "0123456789") {
		t.Errorf("certificates row %q shows no expiry", row)
	}
}
