package hardening

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

const h2LengthConfig = `
listeners:
  - name: main
    address: "{{.listen}}"
    h2c: true
admin: { address: "{{.admin}}" }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }] }
  buffered:
    targets: [{ url: "{{.rec}}" }]
    retries: { attempts: 2, non_idempotent: true, buffer_body: 64KiB }
routes:
  - name: buffered
    match: { hosts: [buffered.example] }
    upstream: buffered
  - name: streamed
    upstream: rec
`

// TestH2ContentLengthMismatch (RFC 9113 §8.1.1): an h2 request whose
// content-length is not a plain decimal, or does not match the DATA the
// stream carries, is malformed. It must never reach the upstream as a
// complete request: not as an empty one (net/http reads a value it cannot
// parse as 0), not with the declared bytes when more DATA follows, not with
// fewer. Both ways a body leaves the gateway are covered: streamed, and read
// up front for retries.
func TestH2ContentLengthMismatch(t *testing.T) {
	rec := newRecorder(t)
	p := startProcess(t, h2LengthConfig, vars{"rec": rec.URL()})

	type frames struct {
		name  string
		cl    []string // content-length fields, in order
		data  []string // DATA frames; the last ends the stream
		valid bool     // well-formed: forwarded once with the DATA as body
	}
	var cases []frames
	for _, cl := range []string{"+5", "5, 5", "5,5", " 5", "5 ", "0x5", "-5", "", "5.0", "1e1", "٥"} {
		cases = append(cases, frames{name: "value " + cl, cl: []string{cl}, data: []string{"hello"}})
	}
	cases = append(cases,
		frames{name: "two values", cl: []string{"5", "6"}, data: []string{"hello"}},
		frames{name: "short", cl: []string{"5"}, data: []string{"hel"}},
		frames{name: "short in two", cl: []string{"5"}, data: []string{"he", "l"}},
		frames{name: "long", cl: []string{"5"}, data: []string{"hello!!!"}},
		frames{name: "long after exact", cl: []string{"5"}, data: []string{"hello", "!!!"}},
		frames{name: "zero then data", cl: []string{"0"}, data: []string{"hello"}},
		frames{name: "exact", cl: []string{"5"}, data: []string{"hello"}, valid: true},
		frames{name: "exact in two", cl: []string{"5"}, data: []string{"he", "llo"}, valid: true},
		frames{name: "leading zero", cl: []string{"05"}, data: []string{"hello"}, valid: true},
		frames{name: "none", data: []string{"hel", "lo"}, valid: true},
	)
	for _, host := range []string{"streamed.example", "buffered.example"} {
		for _, c := range cases {
			for try := range 3 { // the finding was a race: 9 of 23 tries
				rec.take()
				h := dialH2(t, p.Listen)
				id := h.next
				h.next += 2
				fields := []string{":method", "POST", ":scheme", "http", ":authority", host, ":path", "/len"}
				for _, v := range c.cl {
					fields = append(fields, "content-length", v)
				}
				if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block(fields...), EndHeaders: true}); err != nil {
					t.Fatal(err)
				}
				for i, d := range c.data {
					if err := h.fr.WriteData(id, i == len(c.data)-1, []byte(d)); err != nil {
						t.Fatal(err)
					}
				}
				got := h.outcome(id)
				h.c.Close()
				rec.settle(t)
				var complete []recorded
				for _, r := range rec.take() {
					if r.Err != "" {
						t.Errorf("%s %s: upstream got a malformed request (%s)", host, c.name, r.Err)
					}
					if r.Complete {
						complete = append(complete, r)
					}
				}
				want := strings.Join(c.data, "")
				switch {
				case c.valid && (got != "200" || len(complete) != 1 || string(complete[0].Body) != want):
					t.Errorf("%s %s (try %d): %s with %d complete upstream, want 200 and one request with body %q", host, c.name, try, got, len(complete), want)
				case !c.valid && len(complete) != 0:
					t.Errorf("%s %s (try %d): client got %s, but the upstream received %d complete request(s), first with Content-Length %q and body %q",
						host, c.name, try, got, len(complete), complete[0].Header.Get("Content-Length"), complete[0].Body)
				case !c.valid && got == "200":
					t.Errorf("%s %s (try %d): answered 200", host, c.name, try)
				}
			}
		}
	}
}
