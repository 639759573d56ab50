package upstream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/wasmgate/wasmgate/core/config"
)

// gRPC health checks: grpc.health.v1.Health/Check over the target's own
// HTTP/2 transport, as Envoy's grpc_health_check does. The messages are
// two fields, so they are encoded and decoded here rather than through
// generated code: HealthCheckRequest{string service = 1} and
// HealthCheckResponse{ServingStatus status = 1}, SERVING = 1.

const grpcHealthPath = "/grpc.health.v1.Health/Check"

// probeGRPC asks t whether g.Service is SERVING.
func (u *Upstream) probeGRPC(ctx context.Context, a *config.ActiveHealth, t *Target) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL.Scheme+"://"+t.URL.Host+grpcHealthPath,
		bytes.NewReader(grpcHealthRequest(a.GRPC.Service)))
	if err != nil {
		return false, err.Error()
	}
	req.Host = t.Host
	if a.Host != "" {
		req.Host = a.Host
	}
	req.Header = http.Header{
		"Content-Type": {"application/grpc"},
		"Te":           {"trailers"},
		"User-Agent":   {"wasmgate-health-check"},
	}
	c := *u.checkCli
	c.Transport = t.roundTripper()
	resp, err := c.Do(req)
	if err != nil {
		return false, err.Error()
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return false, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("status %d", resp.StatusCode)
	}
	// grpc-status is a trailer, or a header in a trailers-only answer.
	st := resp.Trailer.Get("Grpc-Status")
	if st == "" {
		st = resp.Header.Get("Grpc-Status")
	}
	if st != "0" {
		msg := resp.Trailer.Get("Grpc-Message") + resp.Header.Get("Grpc-Message")
		if m, err := url.PathUnescape(msg); err == nil {
			msg = m
		}
		return false, fmt.Sprintf("grpc-status %q: %s", st, msg)
	}
	serving, err := grpcHealthServing(body)
	if err != nil {
		return false, "bad health response: " + err.Error()
	}
	if serving != 1 {
		return false, fmt.Sprintf("serving status %d, want SERVING (1)", serving)
	}
	return true, ""
}

// grpcHealthRequest is a HealthCheckRequest for service in a gRPC frame.
func grpcHealthRequest(service string) []byte {
	msg := []byte{}
	if service != "" {
		msg = append(msg, 0x0a) // field 1, length-delimited
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg))) // frame[0] = 0: not compressed
	return append(frame, msg...)
}

// grpcHealthServing reads the status field of the HealthCheckResponse in a
// gRPC frame (0, UNKNOWN, when absent, as proto3 omits it).
func grpcHealthServing(b []byte) (uint64, error) {
	if len(b) < 5 {
		return 0, errors.New("no message")
	}
	if b[0] != 0 {
		return 0, errors.New("compressed message")
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(n) != uint64(len(b)-5) {
		return 0, fmt.Errorf("frame of %d bytes holds %d", n, len(b)-5)
	}
	msg, status := b[5:], uint64(0)
	for len(msg) > 0 {
		key, k := binary.Uvarint(msg)
		if k <= 0 {
			return 0, errors.New("bad field key")
		}
		msg = msg[k:]
		switch key & 7 {
		case 0: // varint
			v, k := binary.Uvarint(msg)
			if k <= 0 {
				return 0, errors.New("bad varint")
			}
			msg = msg[k:]
			if key>>3 == 1 {
				status = v
			}
		case 2: // length-delimited: skipped
			l, k := binary.Uvarint(msg)
			if k <= 0 || l > uint64(len(msg)-k) {
				return 0, errors.New("bad length")
			}
			msg = msg[k+int(l):]
		case 1:
			if len(msg) < 8 {
				return 0, errors.New("short fixed64")
			}
			msg = msg[8:]
		case 5:
			if len(msg) < 4 {
				return 0, errors.New("short fixed32")
			}
			msg = msg[4:]
		default:
			return 0, fmt.Errorf("wire type %d", key&7)
		}
	}
	return status, nil
}
