package stores

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestAdapter(t *testing.T) {
	var buf bytes.Buffer
	a := Adapter{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	a.Printf(context.Background(), "redis: %s failed after %d attempts", "dial", 3)
	if got := buf.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, `msg="redis: dial failed after 3 attempts"`) || !strings.Contains(got, "component=go-redis") {
		t.Errorf("logged %q, want a debug line naming go-redis", got)
	}

	buf.Reset()
	quiet := Adapter{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	quiet.Printf(context.Background(), "redis: dial failed")
	if buf.Len() != 0 {
		t.Errorf("logged %q at info level, want nothing", buf.String())
	}
}

func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), true},
		{context.DeadlineExceeded, true},
		{redisErr("CLUSTERDOWN The cluster is down"), true},
		{redisErr("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{redisErr("LOADING Redis is loading the dataset in memory"), true},
		{redisErr("READONLY You can't write against a read only replica."), true},
		{redisErr("ERR Error running script (call to f_...): @user_script:3: bad argument"), false},
		{redisErr("NOSCRIPT No matching script."), false},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// redisErr is an error reply from Redis, as go-redis types them.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

var _ redis.Error = redisErr("")
