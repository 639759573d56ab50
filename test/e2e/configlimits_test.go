package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeRoutes writes a config of n routes to path, each on one line, with
// pad bytes of comment per route to reach a size cheaply.
func writeRoutes(t *testing.T, path, head string, n, pad int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "%s\nupstreams:\n  a: { targets: [{ url: \"http://127.0.0.1:9\" }] }\nroutes:\n", head)
	padding := strings.Repeat("x", pad)
	for i := range n {
		fmt.Fprintf(w, "  - { name: r%d, match: { path: /r/%d }, upstream: a } #%s\n", i, i, padding)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// aliasBomb is a small file whose aliases expand to millions of values:
// 2,000 routes that are one route, each with 1,000 hosts that are one list.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("listeners: [{ address: \"127.0.0.1:0\" }]\nupstreams: { a: { targets: [{ url: \"http://127.0.0.1:9\" }] } }\n")
	b.WriteString("consumers:\n  - name: c\n    metadata: { hosts: x }\n")
	b.WriteString("routes:\n  - &r { name: r, match: { hosts: &h [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "h%d.example", i)
	}
	b.WriteString("] }, upstream: a }\n")
	for range 2000 {
		b.WriteString("  - *r\n")
	}
	return b.String()
}

func TestValidateRefusesOversizedConfigs(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	writeFile(t, dir, "good.yaml", "listeners: [{ address: \"127.0.0.1:0\" }]\nroutes: [{ name: r, respond: { body: ok } }]\n")

	start := time.Now()
	if _, errOut, code := runCLI(t, dir, "validate", "-c", "good.yaml"); code != 0 {
		t.Fatalf("good.yaml: exit %d\n%s", code, errOut)
	}
	baseline := time.Since(start)

	// 17 MiB: over the default limit, refused before it is parsed.
	writeRoutes(t, filepath.Join(dir, "huge.yaml"), `listeners: [{ address: "127.0.0.1:0" }]`, 170_000, 40)
	start = time.Now()
	_, errOut, code := runCLI(t, dir, "validate", "-c", "huge.yaml")
	took := time.Since(start)
	if code != 1 || !strings.Contains(errOut, "huge.yaml: the config file is too large") || !strings.Contains(errOut, "over the limit of 16.0 MiB") {
		t.Errorf("huge.yaml: exit %d, want 1 and the size named:\n%s", code, errOut)
	}
	// Refused without parsing: about as fast as a tiny valid config (parsing
	// it would take seconds). The bound is generous for a loaded machine.
	if took > 20*baseline+time.Second {
		t.Errorf("huge.yaml took %v to refuse; a tiny config validates in %v", took, baseline)
	}

	// Within the size limit, over the route limit: named with file:line.
	writeRoutes(t, filepath.Join(dir, "many.yaml"), `listeners: [{ address: "127.0.0.1:0" }]`, 10_001, 0)
	if _, errOut, code := runCLI(t, dir, "validate", "-c", "many.yaml"); code != 1 ||
		!strings.Contains(errOut, "many.yaml:4:1: routes: 10001 routes, over the limit of 10000") {
		t.Errorf("many.yaml: exit %d, want 1 and the route limit at its line:\n%s", code, errOut)
	}

	// The limit is a flag.
	if _, errOut, code := runCLI(t, dir, "validate", "--max-config-size", "50B", "-c", "good.yaml"); code != 1 ||
		!strings.Contains(errOut, "over the limit of 50 B") {
		t.Errorf("--max-config-size 50B: exit %d, want 1:\n%s", code, errOut)
	}
	if _, errOut, code := runCLI(t, dir, "validate", "--max-config-size", "64MiB", "-c", "good.yaml"); code != 0 {
		t.Errorf("--max-config-size 64MiB: exit %d\n%s", code, errOut)
	}

	writeFile(t, dir, "bomb.yaml", aliasBomb())
	if _, errOut, code := runCLI(t, dir, "validate", "-c", "bomb.yaml"); code != 1 || !strings.Contains(errOut, "alias bomb") {
		t.Errorf("bomb.yaml: exit %d, want 1 and the alias bomb named:\n%s", code, errOut)
	}
}

// A serving gateway refuses an oversized config on POST /reload and on a
// file change, and keeps serving the one it has.
func TestReloadRefusesOversizedConfigs(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, reloadV1, vars{"a": a.URL})
	huge := g.File + ".huge"
	writeRoutes(t, huge, "listeners: [{ address: \""+g.Listen+"\" }]\nadmin: { address: \""+g.Admin+"\" }", 170_000, 40)

	if err := os.Rename(huge, g.File); err != nil {
		t.Fatal(err)
	}
	// The watcher sees the change and refuses it; so does POST /reload.
	if err := g.Stderr.WaitFor(30*time.Second, nil, func(log []byte) bool {
		return strings.Contains(string(log), "the config file is too large")
	}); err != nil {
		t.Errorf("no rejection logged after the file changed: %v", err)
	}
	code, body := g.Reload()
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "too large") {
		t.Errorf("POST /reload: %d %s, want 422 naming the size", code, body)
	}
	if resp, _ := g.Get("/v1"); resp.StatusCode != http.StatusOK {
		t.Errorf("/v1 after the rejected reloads: %d, want 200 from the old config", resp.StatusCode)
	}
	if gen := g.Status().Generation; gen != 1 {
		t.Errorf("generation %d after rejected reloads, want 1", gen)
	}
}

var vmRSS = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`)

func rssKB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	m := vmRSS.FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// A rejected reload of a large config gives its memory back: the gateway
// does not keep the peak of a parse it threw away.
func TestRejectedReloadReturnsMemory(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, reloadV1, vars{"a": a.URL}, startOptions{Symlinked: true, LogLevel: "info", NoRace: true})
	for range 20 {
		if resp, _ := g.Get("/v1"); resp.StatusCode != http.StatusOK {
			t.Fatalf("/v1: %d", resp.StatusCode)
		}
	}
	baseline := rssKB(t, g.Pid())

	// 5 MiB of routes: within the size limit, so it is parsed (over 100 MB
	// at the peak) before the route limit refuses it. g.File is a
	// symlink (no watcher); writing through it replaces the config.
	writeRoutes(t, g.File, "listeners: [{ address: \""+g.Listen+"\" }]\nadmin: { address: \""+g.Admin+"\" }", 50_000, 40)
	code, body := g.Reload()
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "over the limit of 10000") {
		t.Fatalf("POST /reload: %d %.300s, want 422 naming the route limit", code, body)
	}
	after := rssKB(t, g.Pid())
	t.Logf("RSS: %d kB before, %d kB after the rejected reload", baseline, after)
	if after > 3*baseline {
		t.Errorf("RSS %d kB after a rejected reload, more than 3x the %d kB before it", after, baseline)
	}
	if resp, _ := g.Get("/v1"); resp.StatusCode != http.StatusOK {
		t.Errorf("/v1 after the rejected reload: %d", resp.StatusCode)
	}
}

// Loading a large config takes some 50 times its size in short-lived
// memory; the gateway gives it back once the config serves, so reloads of
// 10,000 routes leave RSS where the first load left it rather than at the
// peak (it used to be half again as much after three reloads).
func TestLargeReloadsReturnMemory(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, reloadV1, vars{"a": a.URL}, startOptions{Symlinked: true, NoRace: true})
	head := "listeners: [{ address: \"" + g.Vars["listen"] + "\" }]\nadmin: { address: \"" + g.Vars["admin"] + "\" }"
	writeRoutes(t, g.File, head, 10000, 0)
	if code, body := g.Reload(); code != http.StatusOK {
		t.Fatalf("POST /reload of 10,000 routes: %d %.300s", code, body)
	}
	// The memory goes back in the background: the least RSS over 3 s.
	settled := func() int {
		t.Helper()
		least := rssKB(t, g.Pid())
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
			time.Sleep(100 * time.Millisecond) // sampling, not synchronization
			least = min(least, rssKB(t, g.Pid()))
		}
		return least
	}
	first := settled()
	for i := range 3 {
		writeRoutes(t, g.File, head, 10000, i+1) // a new file each time
		if code, body := g.Reload(); code != http.StatusOK {
			t.Fatalf("POST /reload %d: %d %.300s", i, code, body)
		}
	}
	after := settled()
	t.Logf("RSS with 10,000 routes: %d kB after the first load, %d kB after three more", first, after)
	if after > first*5/4 {
		t.Errorf("RSS %d kB after three reloads of 10,000 routes, over 1.25x the %d kB after the first", after, first)
	}
	if resp, _ := g.Get("/r/9999"); resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/r/9999 (an upstream that refuses): %d, want the route to answer 502 or 503", resp.StatusCode)
	}
}
