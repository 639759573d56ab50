package grpcweb

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func exchange(ct, accept, body string) *filter.Exchange {
	r, _ := http.NewRequest(http.MethodPost, "http://gw/pkg.Svc/Call", strings.NewReader(body))
	r.Header.Set("Content-Type", ct)
	r.Header.Set("Content-Length", "99")
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	return &filter.Exchange{Request: r}
}

func TestRequestTranslated(t *testing.T) {
	f := &Filter{}
	msg := "\x00\x00\x00\x00\x02hi"
	for _, tc := range []struct{ ct, accept, body, wantResp string }{
		{"application/grpc-web", "", msg, "application/grpc-web+proto"},
		{"application/grpc-web+proto", "", msg, "application/grpc-web+proto"},
		{"application/grpc-web+proto", "application/grpc-web-text", msg, "application/grpc-web-text+proto"},
		{"application/grpc-web-text", "", base64.StdEncoding.EncodeToString([]byte(msg)), "application/grpc-web-text+proto"},
		{"Application/GRPC-Web-Text+proto; charset=x", "", base64.StdEncoding.EncodeToString([]byte(msg)), "application/grpc-web-text+proto"},
	} {
		x := exchange(tc.ct, tc.accept, tc.body)
		if resp := f.OnRequest(x); resp != nil {
			t.Fatalf("%s: answered %d", tc.ct, resp.Status)
		}
		h := x.Request.Header
		if h.Get("Content-Type") != "application/grpc" || h.Get("Te") != "trailers" || h.Get("Content-Length") != "" {
			t.Errorf("%s: upstream headers %v", tc.ct, h)
		}
		if got, err := io.ReadAll(x.Request.Body); err != nil || string(got) != msg {
			t.Errorf("%s: upstream body %q, %v", tc.ct, got, err)
		}
		if c := x.Value(callKey{}).(*call); c.contentType != tc.wantResp {
			t.Errorf("%s: answer type %q, want %q", tc.ct, c.contentType, tc.wantResp)
		}
	}
	// Not gRPC-Web: untouched, and the answer too.
	for _, ct := range []string{"application/grpc", "application/grpc+proto", "application/grpc-webby", "application/json", ""} {
		x := exchange(ct, "", "x")
		if f.OnRequest(x) != nil || x.Request.Header.Get("Content-Type") != ct || x.Request.Header.Get("Te") != "" {
			t.Errorf("%q was translated", ct)
		}
		x.Response = &filter.Response{Status: 200, Header: http.Header{"Content-Type": {ct}}}
		if f.OnResponse(x) != nil || x.Response.Header.Get("Content-Type") != ct {
			t.Errorf("%q: answer translated", ct)
		}
		b := &filter.Body{Buf: []byte("abc"), End: true}
		if act, _ := f.OnResponseBody(x, b); act != filter.BodyContinue || string(b.Buf) != "abc" {
			t.Errorf("%q: body %q", ct, b.Buf)
		}
	}
}

func TestResponseTranslated(t *testing.T) {
	f := &Filter{}
	for _, text := range []bool{false, true} {
		ct := "application/grpc-web"
		if text {
			ct += "-text"
		}
		x := exchange(ct, "", "")
		f.OnRequest(x)
		tr := http.Header{}
		x.Response = &filter.Response{Status: 200, Header: http.Header{"Content-Type": {"application/grpc"}, "Content-Length": {"7"}}, Trailer: &tr}
		if f.OnResponse(x) != nil || x.Response.Header.Get("Content-Length") != "" {
			t.Fatalf("headers %v", x.Response.Header)
		}
		var wire []byte
		for _, chunk := range []string{"\x00\x00\x00\x00\x01a", "\x00\x00\x00\x00\x02bc", ""} {
			b := &filter.Body{Buf: []byte(chunk), End: chunk == ""}
			if b.End {
				tr["Grpc-Status"] = []string{"0"}
			}
			f.OnResponseBody(x, b)
			if text {
				d, err := base64.StdEncoding.DecodeString(string(b.Buf))
				if err != nil {
					t.Fatalf("chunk %q not base64: %v", b.Buf, err)
				}
				b.Buf = d
			}
			wire = append(wire, b.Buf...)
		}
		want := "\x00\x00\x00\x00\x01a\x00\x00\x00\x00\x02bc\x80\x00\x00\x00\x10grpc-status: 0\r\n"
		if !bytes.Equal(wire, []byte(want)) {
			t.Errorf("text %v: %q, want %q", text, wire, want)
		}
		if len(tr) != 0 || x.GRPCStatus != "0" {
			t.Errorf("trailers left for HTTP: %v; status recorded %q", tr, x.GRPCStatus)
		}
	}
}

func TestErrorsShapedForGRPCWeb(t *testing.T) {
	f := &Filter{}
	x := exchange("application/grpc-web-text", "", "")
	f.OnRequest(x)
	x.Response = filter.Error(http.StatusUnauthorized, "missing token")
	out := f.OnResponse(x)
	if out == nil || out.Status != 200 || out.Header.Get("Grpc-Status") != "16" || out.Header.Get("Grpc-Message") != "missing token" ||
		out.Header.Get("Content-Type") != "application/grpc-web-text+proto" || len(out.Body) != 0 {
		t.Errorf("local 401: %+v", out)
	}
	// An upstream answer that is not gRPC: a status, never its body.
	x.Response = &filter.Response{Status: 503, Header: http.Header{"Content-Type": {"text/html"}}}
	out = f.OnResponse(x)
	if out == nil || out.Header.Get("Grpc-Status") != "14" || out.Body == nil || len(out.Body) != 0 {
		t.Errorf("upstream 503: %+v", out)
	}
	// Trailers-only without a content type: the server's status stands.
	x.Response = &filter.Response{Status: 200, Header: http.Header{"Grpc-Status": {"5"}}}
	if out := f.OnResponse(x); out != nil || x.Response.Header.Get("Grpc-Status") != "5" || x.Response.Header.Get("Content-Type") != "application/grpc-web-text+proto" {
		t.Errorf("trailers-only without content type: %+v, %v", out, x.Response.Header)
	}
	// A bad -text body.
	x = exchange("application/grpc-web-text", "", "")
	x.RequestBody = []byte("not base64!")
	if out := f.OnRequest(x); out == nil || out.Status != 400 {
		t.Errorf("bad buffered -text body: %+v", out)
	}
}

func TestBuildRefusesHTTP1Upstream(t *testing.T) {
	cfg := &config.Config{
		Upstreams: map[string]*config.Upstream{"a": {Protocol: "http1"}, "b": {Protocol: "h2c"}},
		Routes:    []config.Route{{Name: "ra", Upstream: "a"}, {Name: "rb", Upstream: "b"}},
	}
	if _, err := (&Config{}).Build(&filter.BuildContext{Route: "ra", Config: cfg}); err == nil || !strings.Contains(err.Error(), `upstream "a" over HTTP/1.1`) {
		t.Errorf("http1 upstream: %v", err)
	}
	if _, err := (&Config{}).Build(&filter.BuildContext{Route: "rb", Config: cfg}); err != nil {
		t.Errorf("h2c upstream: %v", err)
	}
}
