package filter

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/router"
)

func TestTemplateRender(t *testing.T) {
	r := httptest.NewRequest("GET", "http://api.example.com/users/42?lang=en&x=1", nil)
	r.Header.Set("X-Request-Id", "abc")
	x := &Exchange{
		Request:  r,
		Route:    "user",
		Params:   router.Params{{Name: "id", Value: "42"}},
		ClientIP: netip.MustParseAddr("192.0.2.7"),
		Consumer: &Consumer{Name: "mobile"},
	}
	cases := []struct{ tmpl, want string }{
		{"plain", "plain"},
		{"", ""},
		{"{id}", "42"},
		{"user-{id}-{route.name}", "user-42-user"},
		{"{request.method} {request.path}", "GET /users/42"},
		{"{request.host}", "api.example.com"},
		{"{request.query}", "lang=en&x=1"},
		{"{header.x-request-id}", "abc"},
		{"{header.X-Missing}", ""},
		{"{query.lang}", "en"},
		{"{client.ip}", "192.0.2.7"},
		{"{consumer.name}", "mobile"},
		{"{{literal}} {id}", "{literal} 42"},
	}
	for _, c := range cases {
		tm, err := CompileTemplate(c.tmpl, []string{"id"})
		if err != nil {
			t.Fatalf("%q: %v", c.tmpl, err)
		}
		if got := tm.Render(x); got != c.want {
			t.Errorf("%q rendered %q, want %q", c.tmpl, got, c.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	cases := []struct{ tmpl, wantErr string }{
		{"{nope}", "unknown placeholder {nope}; valid: a route parameter (id)"},
		{"{request.nope}", "unknown placeholder {request.nope}"},
		{"{id", "unclosed '{'"},
		{"id}", "unmatched '}'"},
		{"{header.}", "unknown placeholder {header.}"},
	}
	for _, c := range cases {
		_, err := CompileTemplate(c.tmpl, []string{"id"})
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%q: got %v, want an error containing %q", c.tmpl, err, c.wantErr)
		}
	}
}

func TestStaticTemplateDoesNotAllocate(t *testing.T) {
	tm, err := CompileTemplate("static-value", nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &Exchange{Request: httptest.NewRequest("GET", "/", nil)}
	if !tm.IsStatic() {
		t.Fatal("a template without placeholders must be static")
	}
	if n := testing.AllocsPerRun(100, func() { _ = tm.Render(x) }); n != 0 {
		t.Errorf("static render allocates %v times", n)
	}
}
