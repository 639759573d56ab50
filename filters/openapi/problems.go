package openapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// Problem is one thing wrong with a request (or a response), where it is:
// "/body/items/0/qty" (a JSON pointer into the body) or "query.limit".
type Problem struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// problems collects a request's problems up to a cap; past it, it only
// counts, so a huge invalid body cannot make a huge answer.
type problems struct {
	list    []Problem
	max     int
	dropped int
}

func (ps *problems) reset(max int) {
	ps.list, ps.max, ps.dropped = ps.list[:0], max, 0
}

func (ps *problems) empty() bool { return len(ps.list) == 0 && ps.dropped == 0 }

func (ps *problems) add(location, msg string) {
	if len(ps.list) >= ps.max {
		ps.dropped++
		return
	}
	ps.list = append(ps.list, Problem{Location: capText(location, maxLocation), Message: capText(msg, maxMessage)})
}

// A problem's location and message can quote the request (a property
// name, a fallback's message quoting a value): each is cut to these many
// bytes, so the answer stays small whatever was sent.
const (
	maxLocation = 256
	maxMessage  = 512
)

// capText cuts s to at most n bytes at a rune boundary, marking the cut.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// addAt adds a problem at the checker's current location, extended by
// extra tokens (from a fallback validator's instance location).
func (ps *problems) addAt(c *checker, msg string, extra ...string) {
	if len(ps.list) >= ps.max {
		ps.dropped++
		return
	}
	ps.list = append(ps.list, Problem{Location: capText(c.location(extra...), maxLocation), Message: capText(msg, maxMessage)})
}

// location is the checker's current location as a JSON pointer under its
// prefix, extended by extra tokens.
func (c *checker) location(extra ...string) string {
	var b strings.Builder
	b.WriteString(c.prefix)
	for _, s := range c.path {
		b.WriteByte('/')
		if s.index >= 0 {
			b.WriteString(strconv.Itoa(s.index))
			continue
		}
		key := string(c.data[s.start:s.end])
		if strings.IndexByte(key, '\\') >= 0 {
			key = unescape(c.data[s.start-1 : s.end+1])
		}
		b.WriteString(escapePtr(key))
	}
	for _, e := range extra {
		b.WriteByte('/')
		b.WriteString(escapePtr(e))
	}
	loc := b.String()
	if loc == "" {
		loc = "/"
	}
	return loc
}

// quoteCapped quotes s for a message, cut to n bytes (at a rune
// boundary): a problem may name what the request sent, never all of it.
func quoteCapped(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(capText(s, n))
}

// problemBody is the JSON of a 400: every problem with its location.
type problemBody struct {
	Error     string    `json:"error"`
	Status    int       `json:"status"`
	Operation string    `json:"operation,omitempty"`
	Problems  []Problem `json:"problems"`
	// Omitted counts the problems past max_problems, left out.
	Omitted int `json:"omitted,omitempty"`
}

func (ps *problems) body(status int, op string) []byte {
	b, _ := json.Marshal(problemBody{
		Error:     "the request does not match the API's OpenAPI description",
		Status:    status,
		Operation: op,
		Problems:  ps.list,
		Omitted:   ps.dropped,
	})
	return append(b, '\n')
}

// summary is the problems in one line, for logs.
func (ps *problems) summary() string {
	var b strings.Builder
	for i, p := range ps.list {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Location)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	if ps.dropped > 0 {
		b.WriteString("; and " + strconv.Itoa(ps.dropped) + " more")
	}
	return b.String()
}
