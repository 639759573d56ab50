package gateway

import "testing"

// TestMirrorSampled: of every n requests, floor(n × percent / 100) are
// mirrored, at any share, with no randomness.
func TestMirrorSampled(t *testing.T) {
	for _, perMyr := range []uint64{1, 250, 1000, 3333, 5000, 9999, 10000} {
		m := &mirror{perMyr: perMyr}
		got := 0
		const n = 100000
		for range n {
			if m.sampled() {
				got++
			}
		}
		if want := n * int(perMyr) / 10000; got != want {
			t.Errorf("%d/10000: %d of %d sampled, want %d", perMyr, got, n, want)
		}
	}
}

func TestShadowHost(t *testing.T) {
	for in, want := range map[string]string{
		"api.example.com":      "api.example.com-shadow",
		"api.example.com:8080": "api.example.com-shadow:8080",
		"127.0.0.1:80":         "127.0.0.1-shadow:80",
	} {
		if got := shadowHost(in); got != want {
			t.Errorf("shadowHost(%q) = %q, want %q", in, got, want)
		}
	}
}
