package gateway

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// localResponse is a respond: or redirect: target, compiled: static parts
// built once, templates filled per request.
type localResponse struct {
	status  int
	header  http.Header // static headers, cloned per request
	dynamic []headerTemplate
	body    *filter.Template
	// redirect, when set, makes the Location header.
	redirect *redirectTarget
}

type headerTemplate struct {
	name string
	tmpl *filter.Template
}

type redirectTarget struct {
	target     *filter.Template // nil: the request's own path
	https      bool
	port       int
	stripQuery bool
}

// compileRespond compiles a respond: target at field (routes[i].respond).
func compileRespond(rc *config.Respond, params []string, field string) (*localResponse, error) {
	l := &localResponse{status: rc.Status, header: http.Header{}}
	names := make([]string, 0, len(rc.Headers))
	for n := range rc.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t, err := filter.CompileTemplate(rc.Headers[n], params)
		if err != nil {
			return nil, config.FieldErr(config.JoinKey(field+".headers", n), "%v", err)
		}
		if t.IsStatic() {
			l.header.Set(n, t.Render(nil))
		} else {
			l.dynamic = append(l.dynamic, headerTemplate{http.CanonicalHeaderKey(n), t})
		}
	}
	body, err := filter.CompileBodyTemplate(rc.Body, params)
	if err != nil {
		return nil, config.FieldErr(field+".body", "%v (in a body, {{name}} is a literal {name})", err)
	}
	l.body = body
	return l, nil
}

// compileRedirect compiles a redirect: target at field (routes[i].redirect).
func compileRedirect(rc *config.Redirect, params []string, field string) (*localResponse, error) {
	rt := &redirectTarget{https: rc.HTTPS, port: rc.Port, stripQuery: rc.StripQuery}
	if rc.Location != "" {
		t, err := filter.CompileTemplate(rc.Location, params)
		if err != nil {
			return nil, config.FieldErr(field+".location", "%v", err)
		}
		rt.target = t
	}
	empty, _ := filter.CompileTemplate("", nil)
	return &localResponse{status: rc.Status, header: http.Header{}, body: empty, redirect: rt}, nil
}

// render makes the response for one exchange.
func (l *localResponse) render(x *filter.Exchange) *filter.Response {
	h := l.header.Clone()
	for _, d := range l.dynamic {
		if v := d.tmpl.Render(x); v != "" {
			h.Set(d.name, v)
		}
	}
	if l.redirect != nil {
		h.Set("Location", l.redirect.location(x))
	}
	body := l.body.Render(x)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &filter.Response{Status: l.status, Header: h, Body: []byte(body), Local: true}
}

// location is where the redirect sends this request.
func (rt *redirectTarget) location(x *filter.Exchange) string {
	r := x.Request
	var loc string
	if rt.target != nil {
		loc = rt.target.Render(x)
	} else {
		loc = r.URL.EscapedPath()
	}
	if rt.https && strings.HasPrefix(loc, "/") {
		loc = "https://" + rt.host(r.Host) + loc
	}
	if q := r.URL.RawQuery; q != "" && !rt.stripQuery {
		if strings.Contains(loc, "?") {
			loc += "&" + q
		} else {
			loc += "?" + q
		}
	}
	return loc
}

// host is the https:// location's authority: the request's host, with
// the configured port, else the request's own (none if it was :80, the
// plain-HTTP default that https would not listen on). 443 is left out.
func (rt *redirectTarget) host(hostport string) string {
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	if rt.port != 0 {
		port = fmt.Sprint(rt.port)
	}
	if port == "" || port == "80" || port == "443" {
		return host
	}
	return host + ":" + port
}
