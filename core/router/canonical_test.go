package router

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
		reason   string // expected PathError reason, when want is ""
		noMerge  bool   // run with mergeSlashes=false
	}{
		{in: "/", want: "/"},
		{in: "/a/b", want: "/a/b"},
		{in: "/a/b/", want: "/a/b/"},
		{in: "/file.json", want: "/file.json"},
		{in: "/a/.well-known/x", want: "/a/.well-known/x"},
		{in: "/a/.../b", want: "/a/.../b"},
		{in: "/a/./b", want: "/a/b"},
		{in: "/a/.", want: "/a/"},
		{in: "/a/b/..", want: "/a/"},
		{in: "/a/b/../c", want: "/a/c"},
		{in: "/a/../../b", want: "/b"},
		{in: "/..", want: "/"},
		{in: "/../..", want: "/"},
		{in: "/.", want: "/"},
		{in: "/./a", want: "/a"},
		{in: "/a//b", want: "/a/b"},
		{in: "//a///b//", want: "/a/b/"},
		{in: "//", want: "/"},
		{in: "/a//b", want: "/a//b", noMerge: true},
		{in: "/a//../b", want: "/a/b", noMerge: true},
		{in: "/a//../b", want: "/b"},
		{in: "/%7Euser", want: "/~user"},
		{in: "/%7euser", want: "/~user"},
		{in: "/a%41", want: "/aA"},
		{in: "/%61%62%63%2D%5F%2e", want: "/abc-_."},
		{in: "/caf%c3%a9", want: "/caf%C3%A9"},
		{in: "/a%20b", want: "/a%20b"},
		{in: "/a%3fb", want: "/a%3Fb"},
		{in: "/a%25b", want: "/a%25b"},
		{in: "/a%252e%252e/b", want: "/a%252e%252e/b"},
		{in: "/x/%2e.json", want: "/x/..json"},
		{in: "/x/%2e%2e%2e", want: "/x/..."},
		{in: "/caf\xc3\xa9", want: "/caf\xc3\xa9"},

		{in: "", reason: "path must start with /"},
		{in: "a/b", reason: "path must start with /"},
		{in: "*", reason: "path must start with /"},
		{in: "/a%2fb", reason: "encoded slash in path"},
		{in: "/a%2Fb", reason: "encoded slash in path"},
		{in: "/a%5Cb", reason: "encoded backslash in path"},
		{in: "/a%5cb", reason: "encoded backslash in path"},
		{in: "/a%00", reason: "encoded NUL in path"},
		{in: `/a\b`, reason: "backslash in path"},
		{in: "/a\x00b", reason: "control character in path"},
		{in: "/a\nb", reason: "control character in path"},
		{in: "/a\x7f", reason: "control character in path"},
		{in: "/a%zz", reason: "invalid percent-escape in path"},
		{in: "/a%4", reason: "invalid percent-escape in path"},
		{in: "/a%", reason: "invalid percent-escape in path"},
		{in: "/a%4/b", reason: "invalid percent-escape in path"},
		{in: "/%2e%2e/x", reason: "encoded dot segment in path"},
		{in: "/public/%2e%2e/admin", reason: "encoded dot segment in path"},
		{in: "/a/%2E/b", reason: "encoded dot segment in path"},
		{in: "/.%2e/x", reason: "encoded dot segment in path"},
		{in: "/.%2E", reason: "encoded dot segment in path"},
		{in: "/%2e./x", reason: "encoded dot segment in path"},
		{in: "/%2e", reason: "encoded dot segment in path"},
	}
	for _, tt := range tests {
		got, err := Canonicalize(tt.in, !tt.noMerge)
		if tt.want == "" {
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Errorf("Canonicalize(%q) = %q, %v; want a *PathError", tt.in, got, err)
				continue
			}
			if pe.Reason != tt.reason || pe.Path != tt.in {
				t.Errorf("Canonicalize(%q): error %+v; want reason %q", tt.in, pe, tt.reason)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Canonicalize(%q, merge=%v) = %q, %v; want %q", tt.in, !tt.noMerge, got, err, tt.want)
		}
	}
}

// TestCanonicalizeFastPathReturnsInput checks that an already canonical path
// is the very same string, so the common case costs no allocation.
func TestCanonicalizeFastPathReturnsInput(t *testing.T) {
	in := "/api/v1/users/42/file.json"
	allocs := testing.AllocsPerRun(100, func() {
		out, err := Canonicalize(in, true)
		if err != nil || out != in {
			t.Fatalf("got %q, %v", out, err)
		}
	})
	if allocs != 0 {
		t.Errorf("fast path allocates %v times per call; want 0", allocs)
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{"/", "/a/./b", "/a/../../b", "/a//b", "/%7Euser", "/a%2fb",
		"/%2e%2e/x", "/.%2e/x", "/caf%c3%a9", "/a/b/..", "//..//", "/a%41", "/x/.json", `/a\b`} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, merge bool) {
		out, err := Canonicalize(in, merge)
		if err != nil {
			if _, ok := err.(*PathError); !ok {
				t.Fatalf("Canonicalize(%q): error %T, want *PathError", in, err)
			}
			return
		}
		if !strings.HasPrefix(out, "/") {
			t.Fatalf("Canonicalize(%q) = %q: does not start with /", in, out)
		}
		again, err := Canonicalize(out, merge)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		for _, seg := range strings.Split(out, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Canonicalize(%q) = %q: has a dot segment", in, out)
			}
		}
		if merge && strings.Contains(out, "//") {
			t.Fatalf("Canonicalize(%q) = %q: has // with merging on", in, out)
		}
		if strings.ContainsAny(out, "\\\x00") || strings.Contains(strings.ToUpper(out), "%2F") {
			t.Fatalf("Canonicalize(%q) = %q: holds a refused character", in, out)
		}
	})
}
