package portal

import (
	"embed"
	"html/template"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// The page is Go's html/template, which escapes every value from a
// document by context (text, attribute, URL); the stylesheet and the
// script are files of our own, embedded, served from PREFIX/assets/.

//go:embed ui
var ui embed.FS

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"paragraphs":  paragraphs,
	"upper":       strings.ToUpper,
	"deprecation": deprecationView,
	"auth":        func(reqs []filter.Requirement) []filter.Requirement { return ofKind(reqs, filter.RequiresAuth) },
	"limits":      func(reqs []filter.Requirement) []filter.Requirement { return ofKind(reqs, filter.RequiresLimit) },
	"join":        strings.Join,
	"inc":         func(i int) int { return i + 1 },
}).ParseFS(ui, "ui/page.html"))

type pageModel struct {
	Title       string
	Description string
	APIs        []*API
	Now         time.Time
}

// Operations counts the operations of every API.
func (m *pageModel) Operations() int {
	n := 0
	for _, a := range m.APIs {
		n += a.Operations
	}
	return n
}

// paragraphs splits a description on blank lines. Descriptions are shown
// as text (CommonMark is not rendered; see docs/rationale.md).
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// deprecationTerms is a route's deprecation as the page says it.
type deprecationTerms struct {
	At, Sunset, Link string
	State            string // "deprecated", "announced" (at is ahead), "retired" (after the sunset)
}

func deprecationView(d *config.Deprecation, now time.Time) *deprecationTerms {
	if d == nil {
		return nil
	}
	v := &deprecationTerms{At: dateText(d.At), Sunset: dateText(d.Sunset), Link: d.Link, State: "deprecated"}
	if at, ok := config.ParseDate(d.At); ok && now.Before(at) {
		v.State = "announced"
	}
	if s, ok := config.ParseDate(d.Sunset); ok && !now.Before(s) {
		v.State = "retired"
	}
	return v
}

// dateText shows a date as written, a time as its date and UTC time.
func dateText(s string) string {
	if s == "" {
		return ""
	}
	t, ok := config.ParseDate(s)
	if !ok {
		return s
	}
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02 15:04 UTC")
}

func ofKind(reqs []filter.Requirement, k filter.RequirementKind) []filter.Requirement {
	var out []filter.Requirement
	for _, r := range reqs {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

type asset struct {
	contentType string
	body        []byte
	etag        string
}

var assets = func() map[string]asset {
	m := map[string]asset{}
	for name, ct := range map[string]string{"portal.css": "text/css; charset=utf-8", "portal.js": "text/javascript; charset=utf-8"} {
		b, err := ui.ReadFile("ui/" + name)
		if err != nil {
			panic(err)
		}
		m[name] = asset{contentType: ct, body: b, etag: tag(b)}
	}
	return m
}()
