// Package browsertest starts the headless Chromium that the console's and
// the portal's browser tests drive through chromedp.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium finds chromium, or skips (fails under CI) saying how to get it.
func Chromium(t *testing.T) string {
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

// Start launches a headless browser with a width×height window and returns
// its context, bounded to 90 seconds; the browser is closed when the test ends.
func Start(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(Chromium(t)), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(width, height))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	bctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return bctx
}
