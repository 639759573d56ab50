package router

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

// FuzzRouteProtectedPrefix canonicalizes arbitrary raw paths and routes them
// through a table where /admin is protected (its own route, as an auth
// filter would sit on) and everything else is public, with templated,
// catch-all, prefix and regex public routes around it. Canonicalization must
// be idempotent, and a path that canonicalizes to /admin or below must match
// the admin route, never a public one, however it was spelled.
func FuzzRouteProtectedPrefix(f *testing.F) {
	for _, s := range []string{"/admin", "/admin/", "/admin/x", "/public/../admin", "/public/%2e%2e/admin",
		"//admin", "/%61dmin", "/ADMIN", "/admin%2fx", "/./admin/./x", "/public/..%2fadmin", "/admin;x",
		"/files/../admin/users", "/users/1/../../admin", "/admin\x00", "/%2Fadmin", "/.%2e/admin"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	entries := []Entry[string]{
		{Match: config.Match{Prefix: "/admin"}, Value: "admin"},
		{Match: config.Match{Path: "/users/{id}"}, Value: "public"},
		{Match: config.Match{Path: "/files/{rest...}"}, Value: "public"},
		{Match: config.Match{Prefix: "/public"}, Value: "public"},
		{Match: config.Match{Regex: "^/r/(?P<x>[a-z]+)$"}, Value: "public"},
		{Match: config.Match{}, Value: "public"}, // everything else
	}
	tab, err := Compile(entries)
	if err != nil {
		f.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	f.Fuzz(func(t *testing.T, raw string, merge bool) {
		path, err := Canonicalize(raw, merge)
		if err != nil {
			return
		}
		again, err := Canonicalize(path, merge)
		if err != nil || again != path {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", raw, path, again, err)
		}
		var ps Params
		got, res, _ := tab.Match(r, Facts{Scheme: "http"}, "x", path, &ps)
		if res != Found {
			t.Fatalf("%q (canonical %q): no route, want the catch-all at least", raw, path)
		}
		protected := path == "/admin" || strings.HasPrefix(path, "/admin/")
		if protected && got != "admin" {
			t.Fatalf("%q canonicalizes to protected %q but matched the %s route", raw, path, got)
		}
		if !protected && got == "admin" {
			t.Fatalf("%q canonicalizes to %q outside /admin but matched the admin route", raw, path)
		}
	})
}
