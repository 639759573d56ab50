package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"
)

// Limits bound how big one config may be. A config is trusted input, but a
// generated or mistaken file of millions of routes would otherwise take a
// serving gateway's CPU and memory for minutes before it is refused; with
// these it is refused before the expensive stages (decoding, building), and
// the message says which bound it passed. Every real config we know of is
// far below them.
type Limits struct {
	FileSize           int64 // bytes of YAML; --max-config-size overrides it
	Listeners          int
	Routes             int
	Upstreams          int
	TargetsPerUpstream int
	Consumers          int
	FilterChains       int
	FiltersPerList     int // entries of one route's filters or one filter chain
}

// DefaultLimits are the bounds README.md documents.
var DefaultLimits = Limits{
	FileSize:           16 << 20,
	Listeners:          64,
	Routes:             10_000,
	Upstreams:          10_000,
	TargetsPerUpstream: 1_000,
	Consumers:          100_000,
	FilterChains:       1_000,
	FiltersPerList:     64,
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	if l.FileSize <= 0 {
		l.FileSize = d.FileSize
	}
	pick(&l.Listeners, d.Listeners)
	pick(&l.Routes, d.Routes)
	pick(&l.Upstreams, d.Upstreams)
	pick(&l.TargetsPerUpstream, d.TargetsPerUpstream)
	pick(&l.Consumers, d.Consumers)
	pick(&l.FilterChains, d.FilterChains)
	pick(&l.FiltersPerList, d.FiltersPerList)
	return l
}

// ReadFile reads a config file of at most max bytes (DefaultLimits.FileSize
// if max is 0), refusing a larger one without reading it all.
func ReadFile(path string, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultLimits.FileSize
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, readError(path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > max {
		return nil, tooLarge(path, fi.Size(), max, true)
	}
	// The size can change between Stat and reading (or the file is not a
	// regular one): read one byte past the limit to know.
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, readError(path, err)
	}
	if int64(len(data)) > max {
		return nil, tooLarge(path, int64(len(data)), max, false)
	}
	return data, nil
}

func readError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return Errors{{File: path, Msg: fmt.Sprintf("cannot read the config file: %v", err)}}
}

// tooLarge reports a file over the size limit; size is only known when
// exact, otherwise the file was not read to its end.
func tooLarge(file string, size, max int64, exact bool) error {
	is := "over " + humanBytes(max)
	if exact {
		is = fmt.Sprintf("%s (%d bytes)", humanBytes(size), size)
	}
	return Errors{{File: file, Err: ErrTooLarge, Msg: fmt.Sprintf(
		"the config file is too large: %s, over the limit of %s (%d bytes); "+
			"split what it holds across gateways, or raise the limit with --max-config-size",
		is, humanBytes(max), max)}}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// checkCounts refuses a document that holds more of something than l
// allows. It runs on the parse tree, before ${ENV} expansion and decoding,
// so an oversized config costs only its parse; it follows aliases one step,
// as the decoder does, so "routes: *many" counts what it stands for.
func checkCounts(file string, root *yaml.Node, l Limits) Errors {
	top := followAlias(documentContent(root))
	if top == nil || top.Kind != yaml.MappingNode {
		return nil // the decoder says what is wrong with it
	}
	var errs Errors
	over := func(at *yaml.Node, field string, n, max int, what, hint string) {
		errs = append(errs, &Error{File: file, Line: at.Line, Col: at.Column, Field: field,
			Msg: fmt.Sprintf("%d %s, over the limit of %d; %s", n, what, max, hint)})
	}
	items := func(n *yaml.Node) []*yaml.Node {
		if n = followAlias(n); n.Kind == yaml.SequenceNode {
			return n.Content
		}
		return nil
	}
	entries := func(n *yaml.Node) []pair {
		if n = followAlias(n); n.Kind == yaml.MappingNode {
			ps, _ := mappingPairs(n)
			return ps
		}
		return nil
	}
	filterList := func(at *yaml.Node, field string, n *yaml.Node) {
		if fs := items(n); len(fs) > l.FiltersPerList {
			over(at, field, len(fs), l.FiltersPerList, "filters in one list", "group them in fewer filters, or split the route")
		}
	}
	for _, p := range entries(top) {
		k := p.key.Value
		switch k {
		case "listeners":
			if n := len(items(p.value)); n > l.Listeners {
				over(p.key, k, n, l.Listeners, "listeners", "run more gateways")
			}
		case "routes":
			routes := items(p.value)
			if len(routes) > l.Routes {
				over(p.key, k, len(routes), l.Routes, "routes", "match more requests per route (prefix, regex, hosts), or split the routes across gateways")
				continue
			}
			for i, r := range routes {
				for _, rp := range entries(r) {
					if rp.key.Value == "filters" {
						filterList(rp.key, JoinIndex(k, i)+".filters", rp.value)
					}
				}
			}
		case "upstreams":
			ups := entries(p.value)
			if len(ups) > l.Upstreams {
				over(p.key, k, len(ups), l.Upstreams, "upstreams", "split them across gateways")
				continue
			}
			for _, u := range ups {
				for _, up := range entries(u.value) {
					if up.key.Value == "targets" {
						if n := len(items(up.value)); n > l.TargetsPerUpstream {
							over(up.key, JoinKey(JoinKey(k, u.key.Value), "targets"), n, l.TargetsPerUpstream,
								"targets", "put a load balancer or a DNS name with many addresses in front of them")
						}
					}
				}
			}
		case "consumers":
			if n := len(items(p.value)); n > l.Consumers {
				over(p.key, k, n, l.Consumers, "consumers", "authenticate with JWTs from an identity provider (the jwt filter) instead of listing every consumer")
			}
		case "filter_chains":
			chains := entries(p.value)
			if len(chains) > l.FilterChains {
				over(p.key, k, len(chains), l.FilterChains, "filter chains", "share chains between routes")
				continue
			}
			for _, c := range chains {
				filterList(c.key, JoinKey(k, c.key.Value), c.value)
			}
		}
	}
	return errs
}
