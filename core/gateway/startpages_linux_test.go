package gateway

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// residentExecutable is how many bytes of the executable's read-only
// mappings are resident now.
func residentExecutable(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	regions, err := executableRegions(exe)
	if err != nil {
		t.Fatal(err)
	}
	if len(regions) == 0 {
		t.Fatal("no read-only mapping of the executable found in /proc/self/smaps")
	}
	var n int64
	for _, r := range regions {
		n += r.rss
	}
	return n
}

// releasePages unmaps what is resident of the executable's read-only
// mappings: right after it, only the pages touched since are.
func TestReleasePages(t *testing.T) {
	before, kept, err := releasePages()
	if err != nil {
		t.Fatal(err)
	}
	now := residentExecutable(t)
	t.Logf("resident executable: %d kB, %d kB released, %d kB just after", before>>10, (before-kept)>>10, now>>10)
	if kept != 0 {
		t.Errorf("%d kB kept: no mapping of the test binary holds a private page", kept>>10)
	}
	if now >= before {
		t.Errorf("resident executable %d kB before the release, %d kB after", before>>10, now>>10)
	}
}

// Start releases the executable's pages that start-up touched; the code
// that serves comes back on its first use, and a reload releases again.
func TestStartReleasesStartupPages(t *testing.T) {
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	write := func(route string) {
		cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { echo: { targets: [{ url: "` + up.URL + `" }] } }
routes: [{ name: ` + route + `, match: { prefix: / }, upstream: echo }]
`
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first")

	before := residentExecutable(t)
	g, url := startGateway(t, file)
	afterStart := residentExecutable(t)
	t.Logf("resident executable: %d kB before Start, %d kB after", before>>10, afterStart>>10)
	if afterStart >= before {
		t.Errorf("resident executable %d kB before Start, %d kB after: not released", before>>10, afterStart>>10)
	}
	if resp, body := get(t, url+"/after-release"); resp == nil || resp.StatusCode != 200 || body != "GET /after-release" {
		t.Fatalf("request after the release: %v %q", resp, body)
	}

	write("second")
	beforeReload := residentExecutable(t)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := residentExecutable(t); r >= beforeReload {
		t.Errorf("resident executable %d kB before a reload, %d kB after", beforeReload>>10, r>>10)
	}
	if resp, body := get(t, url+"/after-reload"); resp == nil || resp.StatusCode != 200 || body != "GET /after-reload" {
		t.Fatalf("request after the reload: %v %q", resp, body)
	}
}

func TestParseSmaps(t *testing.T) {
	const smaps = `00400000-00600000 r-xp 00000000 fe:00 11 /opt/wasm gate/wasmgate (deleted)
Rss:                 800 kB
Anonymous:             0 kB
Swap:                  0 kB
00600000-00700000 r--p 00200000 fe:00 11 /opt/wasm gate/wasmgate (deleted)
Rss:                 100 kB
Private_Dirty:       100 kB
Anonymous:             4 kB
Swap:                  0 kB
00700000-00800000 r--p 00300000 fe:00 11 /opt/wasm gate/wasmgate (deleted)
Rss:                   0 kB
Anonymous:             0 kB
Swap:                  8 kB
00800000-00900000 rw-p 00400000 fe:00 11 /opt/wasm gate/wasmgate (deleted)
Rss:                  40 kB
Anonymous:            40 kB
00900000-00a00000 r--s 00000000 fe:00 11 /opt/wasm gate/wasmgate (deleted)
Rss:                  12 kB
00a00000-00b00000 r-xp 00000000 fe:00 12 /srv/opt/wasm gate/wasmgate (deleted)
Rss:                  64 kB
7ffc0000-7ffc2000 r-xp 00000000 00:00 0                                  [vdso]
Rss:                   8 kB
`
	got, err := parseSmaps(strings.NewReader(smaps), "/opt/wasm gate/wasmgate (deleted)")
	if err != nil {
		t.Fatal(err)
	}
	want := []region{
		{start: 0x400000, end: 0x600000, rss: 800 << 10},
		{start: 0x600000, end: 0x700000, rss: 100 << 10, private: 4 << 10}, // a written page: kept
		{start: 0x700000, end: 0x800000, private: 8 << 10},                 // a swapped-out copy: kept
	}
	if !slices.Equal(got, want) {
		t.Errorf("regions\n%+v\nwant\n%+v\n(not the writable, shared or other file's mappings, nor the vdso)", got, want)
	}
}
