package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// seen is what an echo upstream received, as it reports it in JSON.
type seen struct {
	Upstream   string      `json:"upstream"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawPath    string      `json:"raw_path"`
	RequestURI string      `json:"request_uri"`
	Query      string      `json:"query"`
	Host       string      `json:"host"`
	Proto      string      `json:"proto"`
	Header     http.Header `json:"header"`
	Body       string      `json:"body,omitempty"` // only when short
	BodyLen    int64       `json:"body_len"`
	BodySHA256 string      `json:"body_sha256"`
}

// echoUpstream is a real HTTP upstream that answers every request with what
// it saw and counts requests.
type echoUpstream struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

// newEcho starts an echo upstream named name; it also sets the response
// headers X-Upstream (its name) and X-Internal (for filters to remove).
func newEcho(t *testing.T, name string) *echoUpstream {
	t.Helper()
	u := &echoUpstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *echoUpstream) serve(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	h := sha256.New()
	var short []byte
	n, _ := io.Copy(io.MultiWriter(h, &limitedBuffer{b: &short, max: 64 << 10}), r.Body)
	s := seen{
		Upstream: u.name, Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath,
		RequestURI: r.RequestURI, Query: r.URL.RawQuery, Host: r.Host, Proto: r.Proto,
		Header: r.Header, BodyLen: n, BodySHA256: hex.EncodeToString(h.Sum(nil)),
	}
	if n <= 64<<10 {
		s.Body = string(short)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Upstream", u.name)
	w.Header().Set("X-Internal", "upstream-secret")
	_ = json.NewEncoder(w).Encode(s)
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	b   *[]byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(*l.b); room > 0 {
		*l.b = append(*l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// decodeSeen asserts a 200 from an echo upstream and returns what it saw.
func decodeSeen(t *testing.T, status int, body []byte) seen {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200 from an upstream; body %s", status, body)
	}
	var s seen
	if err := json.Unmarshal(body, &s); err != nil || s.Upstream == "" {
		t.Fatalf("response is not from an echo upstream (%v): %s", err, body)
	}
	return s
}
