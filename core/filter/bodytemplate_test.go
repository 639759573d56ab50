package filter

import (
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/core/router"
)

func TestBodyTemplate(t *testing.T) {
	x := &Exchange{Request: httptest.NewRequest("GET", "http://api.example.com/u/7?lang=de", nil), Route: "r",
		Params: router.Params{{Name: "id", Value: "7"}}}
	for _, tt := range []struct{ in, want string }{
		{`{"status":"ok"}`, `{"status":"ok"}`},
		{`{"id":"{id}","host":"{request.host}","lang":"{query.lang}"}`, `{"id":"7","host":"api.example.com","lang":"de"}`},
		{`{"a":{"b":1}}`, `{"a":{"b":1}}`},
		{`literal {{id}} and {}`, `literal {id} and {}`},
		{`route {route.name}`, `route r`},
	} {
		tmpl, err := CompileBodyTemplate(tt.in, []string{"id"})
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := tmpl.Render(x); got != tt.want {
			t.Errorf("%q rendered %q, want %q", tt.in, got, tt.want)
		}
	}
	if _, err := CompileBodyTemplate(`{"user":"{user}"}`, []string{"id"}); err == nil {
		t.Error("an unknown placeholder compiled; want an error naming it")
	}
}
