package hardening

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// The generated smuggling corpus: request heads with every spelling of
// Transfer-Encoding and Content-Length a front end and a back end have been
// known to read differently, in both orders, behind decoy lines, on every
// HTTP version spelling, with bare-LF and folded lines and odd chunk lines,
// each hiding a request (/smuggled-N) that only a desynchronized reading
// would see as a request of its own, and a probe pipelined behind. The real
// binary serves them on a plain, an h2c and a TLS listener; a recording
// upstream files every request it receives. Unsafe is: a hidden request
// reaching the upstream, a request the upstream cannot parse strictly, more
// than one complete request for one attack, or an error answer after which
// something was forwarded anyway. A clean variant (unambiguous and valid)
// must be forwarded once with its exact body, and its probe answered.

const smugglingConfig = `
listeners:
  - name: main
    address: "127.0.0.1:0"
    timeouts: { read_header: 5s, read: 5s }
  - name: h2c
    address: "127.0.0.1:0"
    h2c: true
    timeouts: { read_header: 5s, read: 5s }
  - name: tls
    address: "127.0.0.1:0"
    tls: { certificates: [{ cert: "{{.cert}}", key: "{{.key}}" }], http2: false }
    timeouts: { read_header: 5s, read: 5s }
admin: { address: "{{.admin}}" }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }] }
routes:
  - name: all
    upstream: rec
`

// variant is one generated request.
type variant struct {
	id    int
	name  string
	raw   string // the attack, then the probe
	clean bool   // a valid, unambiguous request: must be forwarded
	body  string // for clean: the body the upstream must see
}

// smuggledReq is what a variant hides; the id makes each one traceable.
func smuggledReq(id int) string {
	return fmt.Sprintf("GET /smuggled-%04d HTTP/1.1\r\nHost: a\r\n\r\n", id) // fixed width: lengths do not depend on the id
}

func probeReq(id int) string {
	return fmt.Sprintf("GET /probe-%04d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", id)
}

// teSpellings are Transfer-Encoding lines some parser honors and another
// may not (the TE.TE family), plus the plain one.
var teSpellings = []string{
	"Transfer-Encoding: chunked",
	"Transfer-Encoding:chunked",
	"Transfer-Encoding:  chunked  ",
	"Transfer-Encoding:\tchunked",
	"transfer-encoding: chunked",
	"TRANSFER-ENCODING: CHUNKED",
	"Transfer-Encoding: chunked, identity",
	"Transfer-Encoding: identity, chunked",
	"Transfer-Encoding: gzip, chunked",
	"Transfer-Encoding: xchunked",
	"Transfer-Encoding: chunked;q=1",
	"Transfer-Encoding: \"chunked\"",
	"Transfer-Encoding : chunked",
	"Transfer-Encoding\t: chunked",
	"Transfer-Encoding:\x0bchunked",
	"Transfer-Encoding:\x0cchunked",
	"Transfer-Encoding: chunked\x00",
	" Transfer-Encoding: chunked",
	"X-Pad: x\r\n Transfer-Encoding: chunked",
	"Transfer-Encoding:\r\n chunked",
	"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity",
	"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked",
	"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
	"Transfer-Encoding: chunked\n",
	"Transfer-Encoding: chunked\r",
	"Transfer-Encoding: ch\runked",
}

// clSpellings are Content-Length lines; %d is the length.
var clSpellings = []string{
	"Content-Length: %d",
	"Content-Length:%d",
	"content-length: %d",
	"Content-Length: %d ",
	"Content-Length: +%d",
	"Content-Length: 0%d",
	"Content-Length: %d, %d",
	"Content-Length : %d",
	"Content-Length: %d\r\nContent-Length: 0",
	"Content-Length: %d\n",
}

// decoys are lines put before the framing fields: the old scanner took a
// line ending in " HTTP/1.1" for the start of a new head.
var decoys = []string{"", "X-Fake: z HTTP/1.1\r\n", "X-Fake: GET / HTTP/1.0\r\n"}

// versions are request-line protocol spellings.
var versions = []string{"HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/1.9", "http/1.1", "HTTP/1.10", "HTTP/2.0"}

func formatCL(spelling string, n int) string {
	return strings.ReplaceAll(spelling, "%d", strconv.Itoa(n))
}

// generateSmuggling builds the corpus.
func generateSmuggling() []variant {
	var out []variant
	add := func(name, attack string, clean bool, body string) {
		id := len(out)
		raw := strings.ReplaceAll(attack, "@SMUGGLED@", smuggledReq(id))
		raw = strings.ReplaceAll(raw, "@ID@", fmt.Sprintf("%04d", id))
		out = append(out, variant{id: id, name: name, raw: raw + probeReq(id), clean: clean, body: body})
	}
	head := func(version, decoy string) string {
		return "POST /v-@ID@ " + version + "\r\nHost: a\r\n" + decoy
	}

	// CL.TE: the Content-Length covers a terminated chunked body and the
	// hidden request; a chunked reading would see the hidden one as next.
	// TE.CL: the Content-Length covers only the chunk-size line; a
	// Content-Length reading would see the hidden one as next.
	clte := func(h, te, cl string) string {
		body := "0\r\n\r\n@SMUGGLED@"
		n := len(strings.ReplaceAll(body, "@SMUGGLED@", smuggledReq(0)))
		return h + formatCL(cl, n) + "\r\n" + te + "\r\n\r\n" + body
	}
	tecl := func(h, te, cl string) string {
		chunk := "@SMUGGLED@" + strings.Repeat("x", 8)
		size := strconv.FormatInt(int64(len(smuggledReq(0))+8), 16)
		return h + te + "\r\n" + formatCL(cl, len(size)+2) + "\r\n\r\n" + size + "\r\n" + chunk + "\r\n0\r\n\r\n"
	}
	for _, te := range teSpellings {
		for _, cl := range clSpellings {
			add("CL.TE "+strconv.Quote(cl)+" "+strconv.Quote(te), clte(head("HTTP/1.1", ""), te, cl), false, "")
			add("TE.CL "+strconv.Quote(te)+" "+strconv.Quote(cl), tecl(head("HTTP/1.1", ""), te, cl), false, "")
		}
	}
	for _, decoy := range decoys[1:] {
		for _, version := range versions {
			for _, te := range teSpellings[:6] {
				add("decoy CL.TE "+version+" "+strconv.Quote(decoy+te), clte(head(version, decoy), te, clSpellings[0]), false, "")
				add("decoy TE.CL "+version+" "+strconv.Quote(decoy+te), tecl(head(version, decoy), te, clSpellings[0]), false, "")
			}
		}
	}
	for _, version := range versions[1:] { // HTTP/1.1 with chunked alone is valid: a probe follows below
		for _, te := range teSpellings[:3] {
			// Chunked alone on other versions: HTTP/1.0 must not honor it.
			add("TE only "+version+" "+strconv.Quote(te), head(version, "Connection: keep-alive\r\n")+te+"\r\n\r\n0\r\n\r\n@SMUGGLED@", false, "")
		}
	}

	// Bare LF and obs-fold around the framing fields.
	te, cl := "Transfer-Encoding: chunked", "Content-Length: %d"
	for _, h := range []string{
		"POST /v-@ID@ HTTP/1.1\nHost: a\n",
		"POST /v-@ID@ HTTP/1.1\r\nHost: a\n",
		"POST /v-@ID@ HTTP/1.1\r\nHost: a\r\nX-A: b\n",
		"POST /v-@ID@ HTTP/1.1\r\nHost: a\r\nX-A: b\r\n \r\n",
		"POST /v-@ID@ HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\t\r\n",
		"POST /v-@ID@ HTTP/1.1 \r\nHost: a\r\n",
		"POST  /v-@ID@ HTTP/1.1\r\nHost: a\r\n",
		"POST /v-@ID@\tHTTP/1.1\r\nHost: a\r\n",
		"\r\nPOST /v-@ID@ HTTP/1.1\r\nHost: a\r\n",
		"POST /v-@ID@ HTTP/1.1\r\r\nHost: a\r\n",
	} {
		add("line ends CL.TE "+strconv.Quote(h), clte(h, te, cl), false, "")
		add("line ends TE.CL "+strconv.Quote(h), tecl(h, te, cl), false, "")
	}

	// Chunk lines one parser accepts and another reads differently; the
	// hidden request follows the body a lenient reading would end.
	for _, sizeLine := range []string{
		"5 ", "5\t", " 5", "0x5", "+5", "5 ;ext", "5;ext=\"a\nb\"", "5\x00", "5\r", "50000000000000000",
		"5;" + strings.Repeat("e", 5000),
	} {
		add("chunk size "+strconv.Quote(sizeLine), head("HTTP/1.1", "")+te+"\r\n\r\n"+sizeLine+"\r\nhello\r\n0\r\n\r\n@SMUGGLED@", false, "")
	}
	for _, ending := range []string{"hello\n0\r\n\r\n", "hello\r0\r\n\r\n", "hello0\r\n\r\n", "helloXX\r\n0\r\n\r\n", "hello\r\n0\n\n", "hello\r\n0\r\nA: b\n\n", "hello\r\n0\r\nA: b\r\n c\r\n\r\n", "hello\r\n0\r\nA b\r\n\r\n"} {
		add("chunk ending "+strconv.Quote(ending), head("HTTP/1.1", "")+te+"\r\n\r\n5\r\n"+ending+"@SMUGGLED@", false, "")
	}

	// Clean requests: valid and unambiguous, in the spellings RFC 9112
	// allows. Each must be forwarded once with its body.
	for _, c := range []struct{ name, head, body, want string }{
		{"CL", "Content-Length: 5\r\n", "hello", "hello"},
		{"CL no space", "Content-Length:5\r\n", "hello", "hello"},
		{"CL trailing space", "Content-Length: 5 \r\n", "hello", "hello"},
		{"CL leading zeros", "Content-Length: 005\r\n", "hello", "hello"},
		{"CL twice equal", "Content-Length: 5\r\nContent-Length: 5\r\n", "hello", "hello"},
		{"CL lower", "content-length: 5\r\n", "hello", "hello"},
		{"chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"chunked upper", "TRANSFER-ENCODING: CHUNKED\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"chunked ext", "Transfer-Encoding: chunked\r\n", "5;a=b;c=\"d e\"\r\nhello\r\n0;x\r\n\r\n", "hello"},
		{"chunked hex", "Transfer-Encoding: chunked\r\n", "A\r\nhelloworld\r\n0\r\n\r\n", "helloworld"},
		{"chunked leading zero", "Transfer-Encoding: chunked\r\n", "05\r\nhello\r\n000\r\n\r\n", "hello"},
		{"chunked empty ext", "Transfer-Encoding: chunked\r\n", "5;\r\nhello\r\n0\r\n\r\n", "hello"},
		{"chunked trailer", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", "hello"},
		{"chunked many", "Transfer-Encoding: chunked\r\n", "1\r\nh\r\n1\r\ne\r\n3\r\nllo\r\n0\r\n\r\n", "hello"},
		{"no body", "", "", ""},
		{"value with HTTP/1.1", "X-Fake: z HTTP/1.1\r\nContent-Length: 5\r\n", "hello", "hello"},
	} {
		add("clean "+c.name, head("HTTP/1.1", "")+c.head+"\r\n"+c.body, true, c.want)
		add("clean 1.0 "+c.name, head("HTTP/1.0", "Connection: keep-alive\r\n")+c.head+"\r\n"+c.body, !strings.Contains(strings.ToLower(c.head), "transfer"), c.want)
	}
	return out
}

func TestSmugglingCorpus(t *testing.T) {
	corpus := generateSmuggling()
	if len(corpus) < 500 {
		t.Fatalf("corpus has %d variants, want at least 500", len(corpus))
	}
	rec := newRecorder(t)
	cert := gatewaytest.NewCert(t, t.TempDir(), "localhost", nil, false, false)
	p := startProcess(t, smugglingConfig, vars{"rec": rec.URL(), "cert": cert.CertFile, "key": cert.KeyFile})

	tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	for _, l := range []struct {
		name string
		dial func() (net.Conn, error)
	}{
		{"plain", func() (net.Conn, error) { return net.DialTimeout("tcp", p.ListenerAddr("main"), 5*time.Second) }},
		{"h2c", func() (net.Conn, error) { return net.DialTimeout("tcp", p.ListenerAddr("h2c"), 5*time.Second) }},
		{"tls", func() (net.Conn, error) {
			return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.ListenerAddr("tls"), tlsConf)
		}},
	} {
		t.Run(l.name, func(t *testing.T) {
			rec.take()
			results := make([]smuggleResult, len(corpus))
			var wg sync.WaitGroup
			work := make(chan int)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range work {
						results[i] = sendRaw(l.dial, corpus[i].raw)
					}
				}()
			}
			for i := range corpus {
				work <- i
			}
			close(work)
			wg.Wait()
			rec.settle(t)
			checkSmuggling(t, corpus, results, rec.take())
		})
	}
}

type smuggleResult struct {
	statuses []int
	closed   bool
	err      error
}

// sendRaw writes raw on a new connection and reads responses until the
// gateway closes it or it stays idle (a request waiting for bytes that never
// come).
func sendRaw(dial func() (net.Conn, error), raw string) smuggleResult {
	conn, err := dial()
	if err != nil {
		return smuggleResult{err: err}
	}
	defer conn.Close()
	go io.WriteString(conn, raw) // the gateway may answer and close before reading it all
	br := bufio.NewReader(conn)
	var res smuggleResult
	for {
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				res.closed = true
			}
			return res
		}
		_, berr := io.Copy(io.Discard, resp.Body)
		res.statuses = append(res.statuses, resp.StatusCode)
		if berr != nil {
			res.closed = true
			return res
		}
	}
}

func checkSmuggling(t *testing.T, corpus []variant, results []smuggleResult, got []recorded) {
	t.Helper()
	complete := map[int]int{} // variant id -> complete outer requests upstream
	bodies := map[int]string{}
	probes := map[int]bool{}
	unsafe := 0
	report := func(format string, args ...any) {
		unsafe++
		if unsafe <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range got {
		if r.Err != "" {
			report("upstream got a malformed request (%s):\n%q", r.Err, r.Head)
		}
		switch {
		case strings.HasPrefix(r.URI, "/smuggled-"):
			id, _ := strconv.Atoi(strings.TrimPrefix(r.URI, "/smuggled-"))
			report("variant %d %s: the hidden request reached the upstream:\n%q", id, corpus[id].name, corpus[id].raw)
		case strings.HasPrefix(r.URI, "/v-"):
			id, _ := strconv.Atoi(strings.TrimPrefix(r.URI, "/v-"))
			if r.Complete {
				complete[id]++
				bodies[id] = string(r.Body)
			}
		case strings.HasPrefix(r.URI, "/probe-"):
			id, _ := strconv.Atoi(strings.TrimPrefix(r.URI, "/probe-"))
			probes[id] = true
		}
	}
	refused, forwarded := 0, 0
	for i, v := range corpus {
		res := results[i]
		if res.err != nil {
			t.Fatalf("variant %d: dial: %v", i, res.err)
		}
		first := 0
		if len(res.statuses) > 0 {
			first = res.statuses[0]
		}
		switch {
		case v.clean:
			if first != 200 || complete[i] != 1 || bodies[i] != v.body || !probes[i] || len(res.statuses) != 2 {
				report("clean variant %d %s: statuses %v, %d complete upstream with body %q (want %q), probe forwarded %v\n%q",
					i, v.name, res.statuses, complete[i], bodies[i], v.body, probes[i], v.raw)
			}
		case complete[i] > 1:
			report("variant %d %s: %d complete requests upstream for one attack", i, v.name, complete[i])
		case first >= 400 && complete[i] > 0:
			report("variant %d %s: answered %d but a complete request reached the upstream", i, v.name, first)
		case first >= 400 && probes[i]:
			report("variant %d %s: answered %d but the request pipelined behind was forwarded", i, v.name, first)
		}
		if first >= 400 || first == 0 {
			refused++
		} else {
			forwarded++
		}
	}
	t.Logf("%d variants: %d refused or cut, %d forwarded; %d unsafe outcomes", len(corpus), refused, forwarded, unsafe)
	if unsafe > 0 {
		t.Errorf("%d unsafe outcomes", unsafe)
	}
}
