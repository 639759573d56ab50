package server

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// newErrorLog routes http.Server's own messages into slog. Failed TLS
// handshakes (scanners, clients that distrust our certificate, port probes)
// go to debug: on a public port they are constant noise, not our error.
func newErrorLog(logger *slog.Logger) *log.Logger {
	return log.New(errorLogWriter{logger}, "", 0)
}

type errorLogWriter struct{ logger *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelDebug
	}
	w.logger.Log(context.Background(), level, msg)
	return len(p), nil
}
