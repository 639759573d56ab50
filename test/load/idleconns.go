package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// measureIdleConns opens n keep-alive connections to the gateway, sends one
// request on each and reads its response, so every connection has served a
// request and now waits idle for the next; then it reads the gateway's RSS.
// The difference to the idle RSS before is what an idle keep-alive client
// connection costs (goroutine, buffers, connection state).
func (b *bench) measureIdleConns(ctx context.Context, n int) error {
	addr := strings.TrimPrefix(b.through, "http://")
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr = addr[:i]
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	req := "GET " + b.o.path + " HTTP/1.1\r\nHost: load\r\n\r\n"
	for i := range n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return fmt.Errorf("connection %d: %v (raise ulimit -n?)", i, err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			return fmt.Errorf("connection %d: %v", i, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return fmt.Errorf("connection %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("connection %d: status %d", i, resp.StatusCode)
		}
		_ = c.SetDeadline(time.Time{})
	}
	if err := sleep(ctx, b.o.settle); err != nil {
		return err
	}
	m, err := readMem(b.gw.pid())
	if err != nil {
		return fmt.Errorf("gateway memory: %v", err)
	}
	per := float64(m.RSS-b.idleMem.RSS) / float64(n)
	if b.o.json {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"idle_rss_mib": math.Round(toMiB(b.idleMem.RSS)*100) / 100, "conns": n,
			"rss_with_conns_mib": math.Round(toMiB(m.RSS)*100) / 100, "bytes_per_conn": math.Round(per),
		})
	}
	fmt.Printf("gateway RSS: %s idle, %s with %d idle keep-alive connections (%.1f KiB each)\n",
		mib(b.idleMem.RSS), mib(m.RSS), n, per/1024)
	return nil
}
