// Package aggregate is the aggregate route target: one client request
// answered by several backend calls, run concurrently, their JSON results
// shaped and merged into one JSON object.
//
// A Plan is compiled once per snapshot from the route's config: the calls'
// dependency graph (After) is resolved to indexes, templates are parsed and
// checked against the route's parameters and the calls a call waits for,
// field lists are sorted. Per request, Run only renders templates, starts
// each call as soon as the calls it waits for are done (not in waves), and
// places results.
//
// Each call reaches its upstream through a Caller that the gateway supplies,
// so the balancer, health, retries, the circuit breaker and the attempt
// observer apply to it as to any proxied request.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Caller sends one backend request to an upstream and returns its response;
// the caller of Do closes the body. req has a path and query but no scheme
// or host: the Caller picks the target.
type Caller interface {
	// Do sends one backend call for the client's exchange parent. It must
	// not modify parent, which other calls read concurrently.
	Do(ctx context.Context, parent *filter.Exchange, req *http.Request) (*http.Response, error)
}

// Options is what a plan needs from the route and the snapshot.
type Options struct {
	Params []string // the route's path parameters
	// Caller returns the Caller of an upstream, or nil if it is unknown.
	Caller func(upstream string) Caller
	// Timeout bounds the whole aggregate (the route's timeout); 0: none.
	Timeout time.Duration
}

// DefaultMaxBody caps each backend body and the merged response when the
// config says nothing.
const DefaultMaxBody = 1 << 20

// PartialHeader names the optional calls that were left out.
const PartialHeader = "X-Wasmgate-Partial"

// Plan is a compiled aggregate. It is immutable and safe for concurrent use.
type Plan struct {
	calls   []*call
	maxBody int64
	timeout time.Duration
}

type call struct {
	index    int
	name     string
	upstream string
	caller   Caller
	method   string
	path     *template
	headers  []header
	pass     []string // canonical header names copied from the client request
	timeout  time.Duration
	required bool

	after      []int // calls this one waits for
	dependents []int // calls that wait for this one

	as    string
	merge bool
	group string
	sel   []string
	shape fieldShape
	plain bool // no select and no shaping: the body is placed as it came
}

type header struct {
	name  string // canonical
	value *template
}

// Compile builds a plan from a validated aggregate config. Errors are
// config.FieldErr paths relative to the aggregate block
// ("calls[1].path"), joined.
func Compile(spec *config.Aggregate, o Options) (*Plan, error) {
	p := &Plan{maxBody: int64(spec.MaxBody), timeout: o.Timeout}
	if p.maxBody <= 0 {
		p.maxBody = DefaultMaxBody
	}
	names := make(map[string]int, len(spec.Calls))
	for i := range spec.Calls {
		names[spec.Calls[i].CallName()] = i
	}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, config.FieldErr(field, format, args...))
	}
	for i := range spec.Calls {
		sc := &spec.Calls[i]
		cp := "calls[" + strconv.Itoa(i) + "]"
		c := &call{
			index:    i,
			name:     sc.CallName(),
			upstream: sc.Upstream,
			method:   sc.Method,
			timeout:  sc.Timeout.D(),
			required: sc.IsRequired(),
			as:       sc.As,
			merge:    sc.Merge,
			group:    sc.Group,
		}
		if c.method == "" {
			c.method = http.MethodGet
		}
		if o.Caller != nil {
			c.caller = o.Caller(sc.Upstream)
		}
		if c.caller == nil {
			fail(cp+".upstream", "upstream %q is not available", sc.Upstream)
		}
		for k, dep := range sc.After {
			j, ok := names[dep]
			if !ok || j == i {
				fail(fmt.Sprintf("%s.after[%d]", cp, k), "unknown call %q", dep)
				continue
			}
			c.after = append(c.after, j)
		}
		// A call may read the results only of calls it waits for, or it
		// could run before they are there.
		own := &scope{params: o.Params, calls: names}
		var err error
		if c.path, err = compileTemplate(sc.Path, own, escPath); err != nil {
			fail(cp+".path", "%v", err)
		}
		for _, name := range sortedKeys(sc.Headers) {
			t, err := compileTemplate(sc.Headers[name], own, escHeader)
			if err != nil {
				fail(config.JoinKey(cp+".headers", name), "%v", err)
				continue
			}
			c.headers = append(c.headers, header{http.CanonicalHeaderKey(name), t})
		}
		for _, h := range sc.PassHeaders {
			c.pass = append(c.pass, http.CanonicalHeaderKey(h))
		}
		if sc.Select != "" {
			c.sel = splitPath(sc.Select)
		}
		if len(sc.Allow) > 0 {
			c.shape.allow = sortedCopy(sc.Allow)
		}
		if len(sc.Deny) > 0 {
			c.shape.deny = sortedCopy(sc.Deny)
		}
		if len(sc.Rename) > 0 {
			c.shape.rename = sc.Rename
		}
		c.plain = c.sel == nil && !c.shape.active() && !c.merge
		p.calls = append(p.calls, c)
	}
	if err := p.link(); err != nil {
		errs = append(errs, err)
	} else {
		errs = p.checkRefs(errs)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// link records dependents and rejects cycles (the config validator reports
// them with positions; this keeps Run from ever waiting forever).
func (p *Plan) link() error {
	for _, c := range p.calls {
		for _, j := range c.after {
			p.calls[j].dependents = append(p.calls[j].dependents, c.index)
		}
	}
	waiting := make([]int, len(p.calls))
	var ready []int
	for _, c := range p.calls {
		waiting[c.index] = len(c.after)
		if len(c.after) == 0 {
			ready = append(ready, c.index)
		}
	}
	seen := 0
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		seen++
		for _, d := range p.calls[i].dependents {
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if seen < len(p.calls) {
		return config.FieldErr("calls", "the calls wait for each other in a cycle; none of them could start")
	}
	return nil
}

// checkRefs rejects {call.field} placeholders naming a call that is not
// among the calls this one waits for, directly or through others.
func (p *Plan) checkRefs(errs []error) []error {
	for _, c := range p.calls {
		before := p.ancestors(c.index)
		check := func(field string, t *template) {
			for _, r := range t.refs() {
				if !before[r] {
					name := p.calls[r].name
					errs = append(errs, config.FieldErr(field, "reads the result of call %q, which it does not wait for; add after: [%s]", name, name))
				}
			}
		}
		cp := "calls[" + strconv.Itoa(c.index) + "]"
		if c.path != nil { // nil: it did not compile, already reported
			check(cp+".path", c.path)
		}
		for _, h := range c.headers {
			check(cp+".headers."+h.name, h.value)
		}
	}
	return errs
}

func (p *Plan) ancestors(i int) []bool {
	seen := make([]bool, len(p.calls))
	var visit func(i int)
	visit = func(i int) {
		for _, j := range p.calls[i].after {
			if !seen[j] {
				seen[j] = true
				visit(j)
			}
		}
	}
	visit(i)
	return seen
}

func splitPath(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
