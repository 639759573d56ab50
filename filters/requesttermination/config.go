// Package requesttermination answers requests at the gateway instead of
// sending them upstream: config key `request_termination` (Kong's
// request-termination plugin). It takes a route out of service with a
// fixed answer, terminates only requests that carry a trigger header or
// query parameter, or echoes the request back as the chain saw it, for
// debugging a live route without disturbing its traffic.
package requesttermination

import (
	"encoding/json"
	"errors"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Name is the filter's config key. The folder drops the underscore, as Go
// package names do.
const Name = "request_termination"

func init() {
	filter.Register(Name, func() filter.Config { return new(Config) })
}

// Config is the `request_termination:` block of a route's filters.
type Config struct {
	// Status of the answer: 200 to 599, default 503.
	Status int `yaml:"status"`
	// Message is the reason in the gateway's JSON error shape,
	// {"error": message, "status": N}; default the status text.
	Message string `yaml:"message"`
	// Body is a raw body sent as written, with ContentType (exclusive with
	// Message and Echo). A pointer, so that `body: ""` asks for an empty body.
	Body        *string `yaml:"body"`
	ContentType string  `yaml:"content_type"` // the Content-Type of body
	// Headers are set on the answer; values may use the placeholders of the
	// headers filter ({route.name}, {header.NAME}, ...).
	Headers map[string]string `yaml:"headers"`
	// Trigger, when set, is a name: only requests that carry a header or a
	// query parameter of that name are terminated; the others pass on.
	Trigger string `yaml:"trigger"`
	// Echo answers with the request as the chain saw it, in JSON, with
	// credentials hidden: for debugging, best with Trigger.
	Echo bool `yaml:"echo"`
	// Redact names more headers and query parameters whose values the echo
	// hides, beyond those named like credentials.
	Redact []string `yaml:"redact"`
}

const defaultStatus = http.StatusServiceUnavailable

// framingHeaders are computed by the gateway from the answer itself, or
// belong to the connection: a configured value could only contradict them.
var framingHeaders = map[string]string{
	"Content-Length":    "the gateway computes it from the body",
	"Transfer-Encoding": "the gateway frames the answer itself",
	"Content-Type":      "use content_type with body (message and echo answer JSON)",
	"Connection":        "it is hop-by-hop (RFC 9110, 7.6.1)",
	"Keep-Alive":        "it is hop-by-hop (RFC 9110, 7.6.1)",
	"Proxy-Connection":  "it is hop-by-hop (RFC 9110, 7.6.1)",
	"Te":                "it is hop-by-hop (RFC 9110, 7.6.1)",
	"Trailer":           "it is hop-by-hop (RFC 9110, 7.6.1)",
	"Upgrade":           "it is hop-by-hop (RFC 9110, 7.6.1)",
}

// Validate checks the block as written; every problem is reported, each at
// its field.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, config.FieldErr(field, format, args...))
	}
	status := c.status()
	switch {
	case status >= 100 && status < 200:
		add("status", "%d is an informational status, not a final answer; valid: 200 to 599", status)
	case status < 200 || status > 599:
		add("status", "%d is not an HTTP status; valid: 200 to 599 (default 503)", status)
	case bodiless(status) && (c.Message != "" || c.Body != nil || c.Echo):
		add("status", "a %d answer has no body (RFC 9110, 15.3.5 and 15.4.5); drop message, body and echo, or choose another status", status)
	}
	if c.Body != nil {
		if c.Message != "" {
			add("body", "message and body are exclusive: message answers the gateway's JSON error {\"error\": message, \"status\": N}, body a raw body; keep one")
		}
		if c.Echo {
			add("body", "echo and body are exclusive: echo answers the request in JSON; keep one")
		}
	}
	if c.ContentType != "" {
		switch {
		case c.Body == nil:
			add("content_type", "content_type applies only to a raw body; add body: \"...\" or drop content_type")
		case !validMediaType(c.ContentType):
			add("content_type", "%q is not a media type; e.g. content_type: \"text/html; charset=utf-8\"", c.ContentType)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		field := config.JoinKey("headers", name)
		switch canon := http.CanonicalHeaderKey(name); {
		case !config.IsToken(name):
			add(field, "%q is not a valid header name (RFC 9110 token: letters, digits and !#$%%&'*+-.^_`|~)", name)
		case framingHeaders[canon] != "":
			add(field, "%s cannot be set here: %s", canon, framingHeaders[canon])
		case !httpguts.ValidHeaderFieldValue(c.Headers[name]):
			add(field, "the value holds a control character (CR, LF, NUL, ...); header values are one line of text")
		}
	}
	if c.Trigger != "" && !config.IsToken(c.Trigger) {
		add("trigger", "%q is not a valid header name; the trigger is matched as a header and as a query parameter name, e.g. trigger: X-Debug-Terminate", c.Trigger)
	}
	if len(c.Redact) > 0 && !c.Echo {
		add("redact", "redact applies only to echo; add echo: true or drop redact")
	}
	for i, name := range c.Redact {
		if name == "" {
			add(config.JoinIndex("redact", i), "a header or query parameter name is required")
		}
	}
	return errors.Join(errs...)
}

// Build compiles the answer once: the per-request work is a header copy
// (and, for echo, the encoding of the request).
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	status := c.status()
	f := &Filter{
		status:     status,
		echo:       c.Echo,
		message:    c.message(status),
		terminated: bc.Counter(TerminatedMetric, filter.Label{Key: "http.route", Value: bc.Route}),
	}
	if c.Trigger != "" {
		f.trigger = c.Trigger
		f.triggerHeader = http.CanonicalHeaderKey(c.Trigger)
	}
	for _, name := range c.Redact {
		f.redact = append(f.redact, strings.ToLower(name))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		t, err := filter.CompileTemplate(c.Headers[name], bc.RouteParams)
		if err != nil {
			return nil, config.FieldErr(config.JoinKey("headers", name), "%v", err)
		}
		f.headers = append(f.headers, header{name: http.CanonicalHeaderKey(name), value: t})
	}
	f.answer = c.answer(status, f.message)
	return f, nil
}

// answer is the fixed response: its header is cloned and its body shared
// (capped, so that an append never writes into it) by every request.
func (c *Config) answer(status int, message string) *filter.Response {
	switch {
	case bodiless(status):
		return &filter.Response{Status: status, Header: http.Header{}, Local: true}
	case c.Body != nil:
		body := []byte(*c.Body)
		return &filter.Response{
			Status: status,
			Header: http.Header{
				"Content-Type":           {c.contentType()},
				"Content-Length":         {strconv.Itoa(len(body))},
				"X-Content-Type-Options": {"nosniff"},
			},
			Body:  body[:len(body):len(body)],
			Local: true,
		}
	}
	r := filter.Error(status, message)
	r.Body = r.Body[:len(r.Body):len(r.Body)]
	return r
}

func (c *Config) status() int {
	if c.Status == 0 {
		return defaultStatus
	}
	return c.Status
}

// message is the configured reason, or the status text, as Kong's default
// message is ("Service unavailable" for 503).
func (c *Config) message(status int) string {
	switch {
	case c.Message != "":
		return c.Message
	case http.StatusText(status) != "":
		return http.StatusText(status)
	}
	return "request terminated"
}

// contentType of a raw body: as configured, else JSON when the body is
// JSON (Kong's default type), else plain text.
func (c *Config) contentType() string {
	switch {
	case c.ContentType != "":
		return c.ContentType
	case *c.Body != "" && json.Valid([]byte(*c.Body)):
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// bodiless statuses never carry content.
func bodiless(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified
}

func validMediaType(s string) bool {
	mt, _, err := mime.ParseMediaType(s)
	return err == nil && strings.Contains(mt, "/") && httpguts.ValidHeaderFieldValue(s)
}

// TerminatedMetric is wasmgate_request_termination_terminated_total
// {http_route}: requests this filter answered instead of the upstream.
var TerminatedMetric = filter.Metric{
	Name: "wasmgate.request_termination.terminated",
	Unit: "{request}",
	Help: "Requests answered by a request_termination filter instead of the route's target, by route.",
}
