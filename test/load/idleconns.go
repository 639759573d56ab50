//go:build linux

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
	// The gateway's free-heap watcher (core/gateway/freeheap.go) looks
	// every 10 s and, with the connections idle, collects: their stacks
	// shrink and the burst's garbage goes back. The least RSS over the
	// next two looks is what the connections cost from then on.
	settled := m.RSS
	for end := time.Now().Add(watcherLooks); time.Now().Before(end); {
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		if m, err := readMem(b.gw.pid()); err == nil {
			settled = min(settled, m.RSS)
		}
	}
	perSettled := float64(settled-b.idleMem.RSS) / float64(n)
	if b.o.json {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"idle_rss_mib": math.Round(toMiB(b.idleMem.RSS)*100) / 100, "conns": n,
			"rss_with_conns_mib": math.Round(toMiB(m.RSS)*100) / 100, "bytes_per_conn": math.Round(per),
			"rss_settled_mib": math.Round(toMiB(settled)*100) / 100, "bytes_per_conn_settled": math.Round(perSettled),
		})
	}
	fmt.Printf("gateway RSS: %s idle, %s with %d idle keep-alive connections (%.1f KiB each), %s (%.1f KiB each) once they stayed idle %s\n",
		mib(b.idleMem.RSS), mib(m.RSS), n, per/1024, mib(settled), perSettled/1024, watcherLooks)
	return nil
}

// watcherLooks is two of the free-heap watcher's looks (one records the
// allocation counter after the burst, the next collects), with a margin.
const watcherLooks = 25 * time.Second
