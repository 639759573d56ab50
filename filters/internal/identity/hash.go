package identity

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"unsafe"

	"github.com/wasmgate/wasmgate/core/config"
)

// SumString is sha256.Sum256 of s without copying s: Sum256 only reads its
// input, so viewing the string's bytes in place is safe, and it keeps the
// credential checks free of allocations.
func SumString(s string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// allowed compiles a filter's optional `consumers:` list (the consumers
// allowed on the route) against the config: nil means every consumer.
// Unknown names are an error at field.
func allowed(cfg *config.Config, field string, names []string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known := make([]string, 0, len(cfg.Consumers))
	for _, c := range cfg.Consumers {
		known = append(known, c.Name)
	}
	out := make(map[string]bool, len(names))
	for i, n := range names {
		if !slices.Contains(known, n) {
			return nil, config.FieldErr(fmt.Sprintf("%s[%d]", field, i), "no consumer is named %q; defined: %s%s", n, listOrNone(known), config.DidYouMean(n, known))
		}
		out[n] = true
	}
	return out, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none (add them under consumers:)"
	}
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// HasScheme reports whether an Authorization value starts with scheme and
// a space, compared ASCII case-insensitively (RFC 9110 §11.1), and returns
// the credentials after it with surrounding spaces trimmed.
func HasScheme(v, scheme string) (string, bool) {
	if len(v) <= len(scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		a, b := v[i], scheme[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return "", false
		}
	}
	v = v[len(scheme)+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v, true
}
