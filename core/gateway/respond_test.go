package gateway

import (
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

func TestRedirectLocation(t *testing.T) {
	for _, tt := range []struct {
		name string
		rc   config.Redirect
		url  string
		want string
	}{
		{"own path, query kept", config.Redirect{}, "http://a.example.com/x/y?q=1", "/x/y?q=1"},
		{"https drops :80", config.Redirect{HTTPS: true}, "http://a.example.com:80/x?q=1", "https://a.example.com/x?q=1"},
		{"https keeps another port", config.Redirect{HTTPS: true}, "http://a.example.com:8080/x", "https://a.example.com:8080/x"},
		{"https with port", config.Redirect{HTTPS: true, Port: 8443}, "http://a.example.com:8080/x", "https://a.example.com:8443/x"},
		{"https with port 443", config.Redirect{HTTPS: true, Port: 443}, "http://a.example.com:8080/x", "https://a.example.com/x"},
		{"https IPv6", config.Redirect{HTTPS: true}, "http://[::1]:8080/x", "https://[::1]:8080/x"},
		{"strip query", config.Redirect{Location: "/v2/users/{id}", StripQuery: true}, "http://a/users/7?q=1", "/v2/users/7"},
		{"location query and request query", config.Redirect{Location: "/search?src={header.X-Src}"}, "http://a/users/7?q=1", "/search?src=app&q=1"},
		{"absolute", config.Redirect{Location: "https://new.example.com/u/{id}"}, "http://a/users/7", "https://new.example.com/u/7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.rc.Status = 301
			l, err := compileRedirect(&tt.rc, []string{"id"}, "routes[0].redirect")
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", tt.url, nil)
			r.Header.Set("X-Src", "app")
			x := &filter.Exchange{Request: r, Params: router.Params{{Name: "id", Value: "7"}}}
			resp := l.render(x)
			if got := resp.Header.Get("Location"); got != tt.want || resp.Status != 301 || len(resp.Body) != 0 {
				t.Errorf("Location %q, status %d, body %q; want %q, 301, empty", got, resp.Status, resp.Body, tt.want)
			}
		})
	}
	if _, err := compileRedirect(&config.Redirect{Location: "/u/{user}"}, []string{"id"}, "routes[0].redirect"); err == nil {
		t.Error("an unknown placeholder in the location compiled; want an error")
	}
}

func TestRespondTemplates(t *testing.T) {
	l, err := compileRespond(&config.Respond{Status: 200,
		Headers: map[string]string{"X-Id": "{id}", "Content-Type": "application/json"},
		Body:    `{"id":"{id}","host":"{request.host}"}`}, []string{"id"}, "routes[0].respond")
	if err != nil {
		t.Fatal(err)
	}
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "http://api.example.com/u/7", nil), Params: router.Params{{Name: "id", Value: "7"}}}
	resp := l.render(x)
	if got, want := string(resp.Body), `{"id":"7","host":"api.example.com"}`; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if resp.Header.Get("X-Id") != "7" || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Content-Length") != "35" {
		t.Errorf("headers %v", resp.Header)
	}
	_, err = compileRespond(&config.Respond{Headers: map[string]string{"X-A": "{nope}"}}, nil, "routes[0].respond")
	if path, _, ok := config.AsFieldErr(err); !ok || path != "routes[0].respond.headers.X-A" {
		t.Errorf("error %v at %q; want one at routes[0].respond.headers.X-A", err, path)
	}
}
