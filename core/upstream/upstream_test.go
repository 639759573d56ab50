package upstream

import (
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

func newUpstream(t testing.TB, targets ...config.Target) *Upstream {
	t.Helper()
	u, err := New("u", &config.Upstream{Targets: targets, MaxIdlePerTarget: 8})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSmoothWeightedSpreadsPicks(t *testing.T) {
	u := newUpstream(t,
		config.Target{URL: "http://a:1", Weight: 5},
		config.Target{URL: "http://b:1", Weight: 1},
		config.Target{URL: "http://c:1", Weight: 1},
	)
	// nginx's smooth WRR for 5,1,1 interleaves: a a b a c a a — never b and c
	// back to back, never five a's in a row.
	var seq []string
	for range 7 {
		seq = append(seq, u.Pick(nil, nil).Host)
	}
	want := "a:1 a:1 b:1 a:1 c:1 a:1 a:1"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("pick sequence %s, want %s", got, want)
	}
	counts := map[string]int{}
	for range 7000 {
		counts[u.Pick(nil, nil).Host]++
	}
	if counts["a:1"] != 5000 || counts["b:1"] != 1000 || counts["c:1"] != 1000 {
		t.Errorf("over whole cycles picks must follow weights exactly, got %v", counts)
	}
}

func TestLargeWeightsAreScaled(t *testing.T) {
	u := newUpstream(t, config.Target{URL: "http://a:1", Weight: 1_000_000}, config.Target{URL: "http://b:1", Weight: 1})
	sw := u.set.Load().bal.(*smoothWeighted)
	if len(sw.seq) > maxCycle+1 {
		t.Fatalf("cycle of %d picks exceeds the cap %d", len(sw.seq), maxCycle)
	}
	seenB := false
	for _, tg := range sw.seq {
		seenB = seenB || tg.Host == "b:1"
	}
	if !seenB {
		t.Error("a target with a tiny weight must still get picks after scaling")
	}
}

func TestTargetValidation(t *testing.T) {
	for _, bad := range []string{"ftp://a:1", "http://", "http://u:p@a:1", "http://a:1/?q=1", "://x"} {
		if _, err := New("u", &config.Upstream{Targets: []config.Target{{URL: bad}}}); err == nil {
			t.Errorf("target %q should be rejected", bad)
		}
	}
	if _, err := New("u", &config.Upstream{}); err == nil {
		t.Error("an upstream without targets should be rejected")
	}
	u := newUpstream(t, config.Target{URL: "http://a:1/base/"})
	if p := u.Targets()[0].URL.Path; p != "/base" {
		t.Errorf("base path %q, want /base (trailing slash trimmed)", p)
	}
}

func BenchmarkPick(b *testing.B) {
	var targets []config.Target
	for i := range 100 {
		targets = append(targets, config.Target{URL: "http://10.0.0." + string(rune('0'+i%10)) + ":80", Weight: 1 + i%3})
	}
	u := newUpstream(b, targets...)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = u.Pick(nil, nil)
		}
	})
}
