package gateway

import (
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
	"weak"
)

// collected reports whether the snapshot p points to is garbage, after
// collecting until it is or until a deadline (finalizers and the sweeper
// may need more than one cycle on a loaded machine).
func collected(p weak.Pointer[Snapshot]) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		if p.Value() == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// currentWeak is a weak pointer to the serving snapshot, taken in a frame
// of its own so that no strong reference stays on the test's stack.
//
//go:noinline
func currentWeak(g *Gateway) weak.Pointer[Snapshot] { return weak.Make(g.current.Load()) }

// A retired snapshot stays alive while a request runs on it and is
// garbage once that request is done: nothing the new snapshot, the
// gateway or a kept upstream holds reaches it.
func TestRetiredSnapshotIsCollectedAfterItsLastRequest(t *testing.T) {
	ps := newProbes()
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeConfig(t, file, up.URL, "v1")
	g, base := startGateway(t, file)
	first := currentWeak(g)

	held := make(chan *http.Response, 1)
	go func() {
		resp, _ := get(t, base+"/held", "X-Hold", "1")
		held <- resp
	}()
	if tag := <-ps.entered; tag != "v1" {
		t.Fatalf("held request entered filter %q, want v1", tag)
	}
	writeConfig(t, file, up.URL, "v2")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	get(t, base+"/new")
	runtime.GC()
	runtime.GC()
	if first.Value() == nil {
		t.Fatal("the old snapshot was collected while a request still ran on it")
	}
	close(ps.release)
	if resp := <-held; resp == nil || resp.Header.Get("X-Probe-Seen") != "v1" {
		t.Fatal("the held request did not finish on the old snapshot")
	}
	if !collected(first) {
		t.Error("the retired snapshot is still reachable after its last request finished")
	}
	if currentWeak(g).Value() == nil {
		t.Error("the serving snapshot was collected")
	}
}

// Reloads one after another, with requests between them, leave only the
// serving snapshot alive.
func TestRepeatedReloadsRetainNoSnapshot(t *testing.T) {
	newProbes()
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeConfig(t, file, up.URL, "v0")
	g, base := startGateway(t, file)
	var old []weak.Pointer[Snapshot]
	for _, tag := range []string{"v1", "v2", "v3", "v4"} {
		old = append(old, currentWeak(g))
		get(t, base+"/x")
		writeConfig(t, file, up.URL, tag)
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
		get(t, base+"/x")
	}
	for i, p := range old {
		if !collected(p) {
			t.Errorf("snapshot %d of %d is still reachable after later reloads", i+1, len(old))
		}
	}
}

// A load raises the GC target and puts it back after; a higher target, or
// GC off, it leaves alone.
func TestCollectLessRestoresTheGCTarget(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	restore := collectLess()
	if got := debug.SetGCPercent(100); got != reloadGCPercent {
		t.Errorf("GC target during a load: %d, want %d", got, reloadGCPercent)
	}
	debug.SetGCPercent(reloadGCPercent)
	restore()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GC target after a load: %d, want the 100 before it", got)
	}
	collectLess()() // GC off (-1) stays off
	if got := debug.SetGCPercent(800); got != -1 {
		t.Errorf("GC off became %d", got)
	}
	collectLess()()
	if got := debug.SetGCPercent(100); got != 800 {
		t.Errorf("a GC target of 800 became %d", got)
	}
}
