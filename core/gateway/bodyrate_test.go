package gateway

import (
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// A route's min_request_body_rate overrides the server's field by field.
func TestMinBodyRateRouteOverride(t *testing.T) {
	size := func(n int64) *config.Size { s := config.Size(n); return &s }
	server := config.BodyRate{BytesPerSecond: size(240), Grace: config.Duration(5 * time.Second)}
	cases := []struct {
		name      string
		server    config.BodyRate
		route     *config.BodyRate
		wantRate  int64
		wantGrace time.Duration
	}{
		{"server's", server, nil, 240, 5 * time.Second},
		{"rate only", server, &config.BodyRate{BytesPerSecond: size(1000)}, 1000, 5 * time.Second},
		{"grace only", server, &config.BodyRate{Grace: config.Duration(time.Minute)}, 240, time.Minute},
		{"off on the route", server, &config.BodyRate{BytesPerSecond: size(0)}, 0, 5 * time.Second},
		{"off on the server", config.BodyRate{}, nil, 0, 0},
	}
	for _, c := range cases {
		rate, grace := minBodyRate(c.server, c.route)
		if rate != c.wantRate || (rate != 0 && grace != c.wantGrace) {
			t.Errorf("%s: %d B/s after %v, want %d after %v", c.name, rate, grace, c.wantRate, c.wantGrace)
		}
	}
}
