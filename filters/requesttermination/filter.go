package requesttermination

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Filter is the compiled answer and, if any, the trigger that selects the
// requests it answers.
type Filter struct {
	status  int
	message string
	answer  *filter.Response // the fixed answer (not used by echo)
	headers []header         // set on every answer, sorted by name
	echo    bool
	redact  []string // lower-case names the echo hides, beyond credentials

	trigger       string // a query parameter name, as written
	triggerHeader string // the same name as a canonical header key

	terminated *filter.Counter
}

type header struct {
	name  string
	value *filter.Template
}

// OnRequest answers the request, unless a trigger is set and the request
// does not carry it; then it continues untouched.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	if f.trigger != "" && !f.triggered(x.Request) {
		return nil
	}
	f.terminated.Inc()
	var r *filter.Response
	if f.echo {
		r = f.echoResponse(x)
	} else {
		a := *f.answer
		a.Header = f.answer.Header.Clone() // later filters and the gateway edit it
		r = &a
	}
	for _, h := range f.headers {
		r.Header[h.name] = []string{h.value.Render(x)}
	}
	return r
}

// triggered reports whether r carries the trigger: a header of that name
// (names are case-insensitive), even empty, or a query parameter of that
// name, with or without a value (names are exact, after percent-decoding).
// It allocates nothing unless a parameter name is percent-encoded.
func (f *Filter) triggered(r *http.Request) bool {
	if _, ok := r.Header[f.triggerHeader]; ok {
		return true
	}
	return hasQueryParam(r.URL.RawQuery, f.trigger)
}

func hasQueryParam(raw, name string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		key, _, _ := strings.Cut(pair, "=")
		if key == name {
			return true
		}
		if strings.ContainsAny(key, "%+") {
			if k, err := url.QueryUnescape(key); err == nil && k == name {
				return true
			}
		}
	}
	return false
}

// echoed is the JSON an echo answers: the request as the upstream would
// have received it at this point of the chain (earlier filters' edits
// applied, hop-by-hop fields already removed, forwarding headers not yet
// added), with credentials hidden.
type echoed struct {
	Status   int         `json:"status"`
	Message  string      `json:"message"`
	Route    string      `json:"route"`
	Consumer *string     `json:"consumer"` // null when no auth filter set one
	Request  echoRequest `json:"request"`
}

type echoRequest struct {
	ID       string              `json:"id,omitempty"`
	Method   string              `json:"method"`
	Host     string              `json:"host"`
	Path     string              `json:"path"` // canonical, as routing saw it
	Query    map[string][]string `json:"query"`
	Headers  map[string][]string `json:"headers"`
	ClientIP string              `json:"client_ip"`
}

func (f *Filter) echoResponse(x *filter.Exchange) *filter.Response {
	r := x.Request
	e := echoed{
		Status:  f.status,
		Message: f.message,
		Route:   x.Route,
		Request: echoRequest{
			ID:      x.RequestID,
			Method:  r.Method,
			Host:    r.Host,
			Path:    r.URL.Path,
			Query:   map[string][]string{},
			Headers: make(map[string][]string, len(r.Header)),
		},
	}
	if x.Consumer != nil {
		e.Consumer = &x.Consumer.Name
	}
	if x.ClientIP.IsValid() {
		e.Request.ClientIP = x.ClientIP.String()
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // what parses; a malformed pair is left out
	for name, vs := range q {
		e.Request.Query[name] = f.hide(name, vs)
	}
	for name, vs := range r.Header {
		e.Request.Headers[name] = f.hide(name, vs)
	}
	body, err := json.Marshal(e)
	if err != nil {
		// Strings and string maps always encode; this is unreachable, but an
		// answer is still owed.
		return filter.Error(http.StatusInternalServerError, "request_termination: the echo could not be encoded")
	}
	body = append(body, '\n')
	return &filter.Response{
		Status: f.status,
		Header: http.Header{
			"Content-Type":           {"application/json"},
			"Content-Length":         {strconv.Itoa(len(body))},
			"Cache-Control":          {"no-store"},
			"X-Content-Type-Options": {"nosniff"},
		},
		Body:  body,
		Local: true,
	}
}

// hide returns vs, or as many redaction marks when name is a credential's.
func (f *Filter) hide(name string, vs []string) []string {
	if !f.secret(name) {
		return vs
	}
	out := make([]string, len(vs))
	for i := range out {
		out[i] = config.Redacted
	}
	return out
}

// secretWords are parts of the names of headers and query parameters that
// carry credentials (Authorization, Cookie, X-Api-Key, access_token, ...).
// The echo is a debugging aid that may be shown or logged anywhere: it
// hides too much rather than too little.
var secretWords = []string{"auth", "cookie", "token", "key", "secret", "passw", "session", "credential", "signature", "private"}

func (f *Filter) secret(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	for _, n := range f.redact {
		if lower == n {
			return true
		}
	}
	return false
}

var (
	_ filter.Filter    = (*Filter)(nil)
	_ filter.Config    = (*Config)(nil)
	_ filter.Validator = (*Config)(nil)
)
