package router

import (
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

func TestRewriterApply(t *testing.T) {
	tests := []struct {
		rw     config.Rewrite
		match  config.Match
		path   string
		params Params
		want   string
	}{
		{config.Rewrite{StripPrefix: "/api"}, config.Match{Prefix: "/api"}, "/api/users/1", nil, "/users/1"},
		{config.Rewrite{StripPrefix: "/api/"}, config.Match{Prefix: "/api/"}, "/api/users/1", nil, "/users/1"},
		{config.Rewrite{StripPrefix: "/api"}, config.Match{Prefix: "/api"}, "/api", nil, "/"},
		{config.Rewrite{StripPrefix: "/api"}, config.Match{Prefix: "/api"}, "/api/", nil, "/"},
		{config.Rewrite{StripPrefix: "/api/v1"}, config.Match{Path: "/api/v1/users/{id}"}, "/api/v1/users/7", nil, "/users/7"},
		// A regex route's path may not start with the prefix: left alone,
		// and never cut mid-segment.
		{config.Rewrite{StripPrefix: "/a"}, config.Match{Regex: "/.*"}, "/b/c", nil, "/b/c"},
		{config.Rewrite{StripPrefix: "/a"}, config.Match{Regex: "/.*"}, "/ab/c", nil, "/ab/c"},
		{config.Rewrite{Path: "/v2/items/{id}"}, config.Match{Path: "/items/{id}"}, "/items/7", Params{{"id", "7"}}, "/v2/items/7"},
		{config.Rewrite{Path: "/{b}/{a}.json"}, config.Match{Path: "/{a}/{b}"}, "/x/y", Params{{"a", "x"}, {"b", "y"}}, "/y/x.json"},
		{config.Rewrite{Path: "/static/{rest}"}, config.Match{Path: "/files/{rest...}"}, "/files/a/b", Params{{"rest", "a/b"}}, "/static/a/b"},
		{config.Rewrite{Path: "/static/{rest...}"}, config.Match{Path: "/files/{rest...}"}, "/files/a%20b", Params{{"rest", "a%20b"}}, "/static/a%20b"},
		{config.Rewrite{Path: "/static/{rest}"}, config.Match{Path: "/files/{rest...}"}, "/files", Params{{"rest", ""}}, "/static/"},
		{config.Rewrite{Path: "/s/{rest}/end"}, config.Match{Path: "/f/{rest...}"}, "/f", Params{{"rest", ""}}, "/s/end"},
		{config.Rewrite{Path: "/img/{w}"}, config.Match{Regex: "/i/(?P<w>[0-9]+)"}, "/i/5", Params{{"w", "5"}}, "/img/5"},
		{config.Rewrite{Path: "/fixed"}, config.Match{Prefix: "/old"}, "/old/x", nil, "/fixed"},
	}
	for _, tt := range tests {
		rw, err := NewRewriter(tt.rw, tt.match)
		if err != nil {
			t.Errorf("NewRewriter(%+v, %+v): %v", tt.rw, tt.match, err)
			continue
		}
		if got := rw.Apply(tt.path, tt.params); got != tt.want {
			t.Errorf("%+v.Apply(%q, %v) = %q; want %q", tt.rw, tt.path, tt.params, got, tt.want)
		}
	}
}

func TestRewriterNil(t *testing.T) {
	for _, rw := range []config.Rewrite{{}, {StripPrefix: "/"}} {
		r, err := NewRewriter(rw, config.Match{Prefix: "/"})
		if err != nil || r != nil {
			t.Errorf("NewRewriter(%+v) = %v, %v; want nil, nil", rw, r, err)
		}
		if got := r.Apply("/a/b", nil); got != "/a/b" {
			t.Errorf("nil Apply = %q", got)
		}
	}
}

func TestRewriterErrors(t *testing.T) {
	tests := []struct {
		rw         config.Rewrite
		match      config.Match
		field, msg string
	}{
		{config.Rewrite{StripPrefix: "/a", Path: "/b"}, config.Match{}, "rewrite", "not both"},
		{config.Rewrite{StripPrefix: "api"}, config.Match{}, "rewrite.strip_prefix", "must start with /"},
		{config.Rewrite{StripPrefix: "/ap"}, config.Match{Prefix: "/api"}, "rewrite.strip_prefix", "segment boundary"},
		{config.Rewrite{StripPrefix: "/other"}, config.Match{Path: "/api/x"}, "rewrite.strip_prefix", "not a leading part"},
		{config.Rewrite{StripPrefix: "/users/x"}, config.Match{Path: "/users/{id}"}, "rewrite.strip_prefix", "before any {param}"},
		{config.Rewrite{StripPrefix: "/a/../b"}, config.Match{}, "rewrite.strip_prefix", "canonical"},
		{config.Rewrite{Path: "/v2/{idd}"}, config.Match{Path: "/items/{id}"}, "rewrite.path", "it has {id}"},
		{config.Rewrite{Path: "/v2/{x}"}, config.Match{Prefix: "/items"}, "rewrite.path", "it has none"},
		{config.Rewrite{Path: "v2"}, config.Match{}, "rewrite.path", "must start with /"},
		{config.Rewrite{Path: "/a/{id"}, config.Match{Path: "/{id}"}, "rewrite.path", "unclosed"},
		{config.Rewrite{Path: "/a/id}"}, config.Match{Path: "/{id}"}, "rewrite.path", "unmatched"},
		{config.Rewrite{Path: "/a/./{id}"}, config.Match{Path: "/{id}"}, "rewrite.path", "canonical"},
		{config.Rewrite{Path: "/{id}"}, config.Match{Path: "/{id"}, "match.path", "whole segment"},
	}
	for _, tt := range tests {
		_, err := NewRewriter(tt.rw, tt.match)
		field, msg, ok := config.AsFieldErr(err)
		if !ok || field != tt.field || !strings.Contains(msg, tt.msg) {
			t.Errorf("NewRewriter(%+v, %+v): %v (field %q); want field %q and %q", tt.rw, tt.match, err, field, tt.field, tt.msg)
		}
	}
}

func TestRewriterAllocations(t *testing.T) {
	strip, _ := NewRewriter(config.Rewrite{StripPrefix: "/api"}, config.Match{Prefix: "/api"})
	tmpl, _ := NewRewriter(config.Rewrite{Path: "/v2/{id}/x"}, config.Match{Path: "/items/{id}"})
	ps := Params{{"id", "42"}}
	if n := testing.AllocsPerRun(100, func() { strip.Apply("/api/a/b", nil) }); n != 0 {
		t.Errorf("strip: %v allocs; want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { tmpl.Apply("/items/42", ps) }); n != 1 {
		t.Errorf("template: %v allocs; want 1", n)
	}
}

func TestParamNames(t *testing.T) {
	names, err := ParamNames(config.Match{Path: "/a/{x}/{rest...}"})
	if err != nil || strings.Join(names, ",") != "x,rest" {
		t.Errorf("path: %v, %v", names, err)
	}
	names, err = ParamNames(config.Match{Regex: "/(?P<y>.)(.)(?P<z>.)"})
	if err != nil || strings.Join(names, ",") != "y,z" {
		t.Errorf("regex: %v, %v", names, err)
	}
}
