package limits

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// The fields of draft-ietf-httpapi-ratelimit-headers (-10 and later): both
// are Structured Field Lists (RFC 9651) whose members name a policy.
//
//	RateLimit-Policy: "api";q=100;w=60
//	RateLimit: "api";r=42;t=18
//
// q is the policy's quota, w its window in seconds, qu its unit when not
// requests; r is what is left now and t the seconds until it is full again.
// A route with several limits adds one member per policy.
const (
	HeaderPolicy = "Ratelimit-Policy" // canonical form of RateLimit-Policy
	HeaderLimit  = "Ratelimit"
)

// PolicyItem renders one RateLimit-Policy member. window 0 omits w; unit ""
// omits qu (requests).
func PolicyItem(name string, quota int64, window time.Duration, unit string) string {
	var b strings.Builder
	b.WriteString(sfString(name))
	b.WriteString(";q=")
	b.WriteString(strconv.FormatInt(quota, 10))
	if window > 0 {
		b.WriteString(";w=")
		b.WriteString(strconv.FormatInt(ceilSeconds(window), 10))
	}
	if unit != "" {
		b.WriteString(";qu=")
		b.WriteString(sfString(unit))
	}
	return b.String()
}

// LimitItem renders one RateLimit member; name is already an sf-string
// (PolicyItem's prefix), so nothing is escaped per request. reset < 0 omits t.
func LimitItem(sfName string, remaining int64, reset time.Duration) string {
	buf := make([]byte, 0, len(sfName)+32)
	buf = append(buf, sfName...)
	buf = append(buf, ";r="...)
	buf = strconv.AppendInt(buf, max(remaining, 0), 10)
	if reset >= 0 {
		buf = append(buf, ";t="...)
		buf = strconv.AppendInt(buf, ceilSeconds(reset), 10)
	}
	return string(buf)
}

// SFString renders s as a Structured Field String (RFC 9651 §3.3.3):
// printable ASCII in quotes, with '"' and '\' escaped; other bytes dropped.
func SFString(s string) string { return sfString(s) }

func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ceilSeconds rounds up: a client told "0" would retry at once and fail.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// RetryAfter is a Retry-After value (RFC 9110 §10.2.3) in whole seconds, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(max(ceilSeconds(d), 1), 10)
}

type rejectBody struct {
	Error      string `json:"error"`
	Status     int    `json:"status"`
	Policy     string `json:"policy"`
	RetryAfter int64  `json:"retry_after"` // seconds
}

// Reject is a local JSON refusal naming the policy:
// {"error": reason, "status": N, "policy": name, "retry_after": seconds},
// with Retry-After set.
func Reject(status int, reason, policy string, retry time.Duration) *filter.Response {
	ra := max(ceilSeconds(retry), 1)
	body, _ := json.Marshal(rejectBody{Error: reason, Status: status, Policy: policy, RetryAfter: ra})
	body = append(body, '\n')
	return &filter.Response{
		Status: status,
		Header: http.Header{
			"Content-Type":           {"application/json"},
			"Content-Length":         {strconv.Itoa(len(body))},
			"X-Content-Type-Options": {"nosniff"},
			"Retry-After":            {strconv.FormatInt(ra, 10)},
		},
		Body:  body,
		Local: true,
	}
}
