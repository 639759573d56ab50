package stores

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
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
