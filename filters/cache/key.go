package cache

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// keyer makes an entry's keys. The primary key is
//
//	GET host/path[?query][ consumer=NAME]
//
// the method (HEAD is answered from GET's entries, so both use GET), the
// request's host lowercased, its canonical path as the route saw it, its
// query as the route's query rule leaves it, and, with key_by_consumer,
// the authenticated consumer. A response with Vary is stored under a
// variant key, the primary key and a secondary key of the request's values
// of the Vary fields; a marker at the primary key names those fields.
type keyer struct {
	query      string // all, ignore, sort
	include    []string
	exclude    []string
	byConsumer bool
}

// primary is the request's primary key; ok is false when key_by_consumer
// is on and no consumer is known (such a request is not cached).
func (k *keyer) primary(r *http.Request, consumer string) (key string, ok bool) {
	var b strings.Builder
	b.Grow(len(r.Host) + len(r.URL.Path) + len(r.URL.RawQuery) + 8)
	b.WriteString("GET ")
	host := r.Host
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			host = strings.ToLower(host)
			break
		}
	}
	b.WriteString(host)
	b.WriteString(r.URL.EscapedPath())
	if q := k.canonicalQuery(r.URL.RawQuery); q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	if k.byConsumer {
		if consumer == "" {
			return "", false
		}
		b.WriteString(" consumer=")
		b.WriteString(consumer)
	}
	return b.String(), true
}

// canonicalQuery applies the route's query rule. Parameters are compared
// by their decoded names but kept as sent.
func (k *keyer) canonicalQuery(raw string) string {
	if raw == "" || k.query == "ignore" {
		return ""
	}
	if k.query == "all" && k.include == nil && k.exclude == nil {
		return raw
	}
	params := strings.Split(raw, "&")
	kept := params[:0]
	for _, p := range params {
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if k.include != nil && !slices.Contains(k.include, name) {
			continue
		}
		if slices.Contains(k.exclude, name) {
			continue
		}
		kept = append(kept, p)
	}
	if k.query == "sort" {
		slices.Sort(kept)
	}
	return strings.Join(kept, "&")
}

// varyNames are the canonical, sorted, distinct field names of a
// response's Vary lines.
func varyNames(h http.Header) []string {
	var names []string
	for _, line := range h["Vary"] {
		for _, n := range strings.Split(line, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, http.CanonicalHeaderKey(n))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// variant is the key of the variant of primary that a request with
// header h selects: the values of the Vary fields, normalized (list items
// trimmed, joined by ", "; RFC 9111 §4.1 allows such normalization), in
// the order of names.
func variant(primary string, names []string, h http.Header) string {
	var b strings.Builder
	b.WriteString(primary)
	for _, n := range names {
		b.WriteString("\x00")
		b.WriteString(n)
		b.WriteByte('=')
		first := true
		for _, line := range h[n] {
			for _, item := range strings.Split(line, ",") {
				if item = strings.TrimSpace(item); item == "" {
					continue
				}
				if !first {
					b.WriteString(", ")
				}
				first = false
				b.WriteString(item)
			}
		}
	}
	return b.String()
}
