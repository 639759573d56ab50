package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
)

// escape says how a placeholder's value is escaped where it stands.
type escape uint8

const (
	escPath   escape = iota // one path segment: "/" and "?" escaped; "", "." and ".." refused
	escQuery                // a query key or value
	escHeader               // a header value: CR, LF and NUL refused
)

// template is a call's path or header value, compiled once: literals,
// exchange placeholders (rendered by filter.Template) and fields of earlier
// calls' results.
type template struct {
	parts  []tpart
	static string // the whole value when there are no placeholders
}

type tpart struct {
	lit  string
	ex   *filter.Template // an exchange placeholder, or nil
	raw  bool             // ex is a route parameter: percent-encoded as in the path
	ref  int              // the call whose result a field is read from; -1: none
	path []string         // the field's path in that result
	esc  escape
	text string // the placeholder as written, for errors
}

// scope is what a template may refer to while compiled.
type scope struct {
	params []string       // the route's path parameters
	calls  map[string]int // call names to indexes
}

// compileTemplate parses s. In a path template, placeholders before the
// first literal '?' are path segments and after it query parts.
func compileTemplate(s string, sc *scope, mode escape) (*template, error) {
	t := &template{}
	err := filter.ScanTemplate(s,
		func(text string) {
			t.parts = append(t.parts, tpart{lit: text, ref: -1})
			if mode == escPath && strings.IndexByte(text, '?') >= 0 {
				mode = escQuery
			}
		},
		func(name string) error {
			p, err := compilePlaceholder(name, sc)
			p.esc = mode
			t.parts = append(t.parts, p)
			return err
		})
	if err != nil {
		return nil, err
	}
	if len(t.parts) == 0 {
		t.parts = nil
	} else if len(t.parts) == 1 && t.parts[0].ex == nil && t.parts[0].ref < 0 {
		t.static, t.parts = t.parts[0].lit, nil
	}
	return t, nil
}

func compilePlaceholder(name string, sc *scope) (tpart, error) {
	p := tpart{ref: -1, text: "{" + name + "}"}
	if head, rest, ok := strings.Cut(name, "."); ok {
		if i, isCall := sc.calls[head]; isCall {
			if rest == "" || strings.HasPrefix(rest, ".") || strings.HasSuffix(rest, ".") || strings.Contains(rest, "..") {
				return p, fmt.Errorf("%s: write a field of %s's result, e.g. {%s.id}", p.text, head, head)
			}
			p.ref, p.path = i, strings.Split(rest, ".")
			return p, nil
		}
	}
	ex, err := filter.CompileTemplate(p.text, sc.params)
	if err != nil {
		return p, fmt.Errorf("%v, or a field of an earlier call's result: {call.field}", err)
	}
	p.ex = ex
	p.raw = !strings.Contains(name, ".")
	return p, nil
}

// refs lists the calls whose results t reads.
func (t *template) refs() []int {
	var out []int
	for _, p := range t.parts {
		if p.ref >= 0 {
			out = append(out, p.ref)
		}
	}
	return out
}

// renderError is a template that could not be filled; client says the
// client's input was at fault (400) rather than a backend's result (502).
type renderError struct {
	msg    string
	client bool
}

func (e *renderError) Error() string { return e.msg }

// render fills t from x and from the results of earlier calls.
func (t *template) render(x *filter.Exchange, results []json.RawMessage) (string, error) {
	if t.parts == nil {
		return t.static, nil
	}
	var b strings.Builder
	for i := range t.parts {
		p := &t.parts[i]
		if p.ex == nil && p.ref < 0 {
			b.WriteString(p.lit)
			continue
		}
		var v string
		client := true
		if p.ex != nil {
			v = p.ex.Render(x)
			if p.raw && strings.IndexByte(v, '%') >= 0 {
				// Escaped once more below, for where it stands.
				if u, err := url.PathUnescape(v); err == nil {
					v = u
				}
			}
		} else {
			client = false
			var err error
			if v, err = field(results[p.ref], p.path); err != nil {
				return "", &renderError{msg: p.text + ": " + err.Error()}
			}
		}
		switch p.esc {
		case escPath:
			if v == "" || v == "." || v == ".." {
				return "", &renderError{msg: p.text + " is " + strconv.Quote(v) + ", which cannot stand in a path", client: client}
			}
			b.WriteString(url.PathEscape(v))
		case escQuery:
			b.WriteString(url.QueryEscape(v))
		case escHeader:
			if strings.ContainsAny(v, "\r\n\x00") {
				return "", &renderError{msg: p.text + " holds a line break or NUL, which cannot stand in a header", client: client}
			}
			b.WriteString(v)
		}
	}
	return b.String(), nil
}

// field reads a scalar at path in a JSON document, as text.
func field(doc json.RawMessage, path []string) (string, error) {
	v, err := walk(doc, path)
	if err != nil {
		return "", err
	}
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", errors.New("the field is null")
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", err
		}
		return s, nil
	case v[0] == '{' || v[0] == '[':
		return "", errors.New("the field is an object or a list, not a value")
	}
	return string(v), nil // a number, true or false, as written
}
