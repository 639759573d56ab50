package openapi

import (
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// formats are the string formats checked; others are annotations, as the
// OpenAPI specification allows. The numeric formats int32 and int64 bound
// an integer's range (schema.go); float, double, byte and password are
// annotations.
var formats = map[string]func(string) bool{
	"date-time": func(s string) bool { _, err := time.Parse(time.RFC3339Nano, s); return err == nil && len(s) >= 20 },
	"date":      func(s string) bool { _, err := time.Parse(time.DateOnly, s); return err == nil },
	"time":      func(s string) bool { _, err := time.Parse("15:04:05Z07:00", s); return err == nil },
	"email":     isEmail,
	"uuid":      isUUID,
	"uri": func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && u.Scheme != ""
	},
	"ipv4": func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is4() },
	"ipv6": func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is6() },
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isEmail accepts the common dot-atom@domain form without allocating and
// leaves anything else (quoted local parts, address literals) to net/mail.
func isEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at > 0 && at < len(s)-1 && simpleLocal(s[:at]) && simpleDomain(s[at+1:]) {
		return true
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

func simpleLocal(s string) bool {
	if s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0) {
			return false
		}
	}
	return true
}

func simpleDomain(s string) bool {
	if strings.HasSuffix(s, ".") {
		return false
	}
	for s != "" {
		label, rest, _ := strings.Cut(s, ".")
		s = rest
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
