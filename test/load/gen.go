//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The built-in load generator, used when wrk is not installed: conns
// keep-alive connections, each a loop of GET → read the whole response, for
// a fixed time (and at most maxReqs requests in all, if maxReqs > 0). Only
// responses completed before the deadline count, as with wrk.

// runGen drives rawURL and reports what it measured.
func runGen(ctx context.Context, rawURL string, headers []string, conns int, d time.Duration, maxReqs int64) (loadResult, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return loadResult{}, fmt.Errorf("load URL %q: want http://host:port/path", rawURL)
	}
	head := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: wasmgate-load\r\n"
	for _, h := range headers {
		head += h + "\r\n"
	}
	req := []byte(head + "\r\n")

	var budget atomic.Int64 // requests left when maxReqs > 0
	budget.Store(maxReqs)
	start := time.Now()
	deadline := start.Add(d)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	workers := make([]genWorker, conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Go(func() { w.run(ctx, u.Host, req, deadline, maxReqs > 0, &budget) })
	}
	wg.Wait()
	elapsed := min(time.Since(start), d)
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return loadResult{}, err
	}

	var r loadResult
	var h histogram
	for i := range workers {
		w := &workers[i]
		r.Requests += w.ok + w.non2xx
		r.Non2xx += w.non2xx
		r.Errors += w.errors
		if r.FirstError == "" && w.firstErr != nil {
			r.FirstError = w.firstErr.Error()
		}
		h.merge(&w.hist)
	}
	r.Elapsed = elapsed
	r.RPS = float64(r.Requests) / elapsed.Seconds()
	r.P50, r.P99 = h.quantile(0.50), h.quantile(0.99)
	return r, nil
}

// genWorker is one connection's loop and its private counters.
type genWorker struct {
	ok, non2xx, errors int64
	firstErr           error
	hist               histogram
}

func (w *genWorker) fail(err error) {
	w.errors++
	if w.firstErr == nil {
		w.firstErr = err
	}
}

func (w *genWorker) run(ctx context.Context, host string, req []byte, deadline time.Time, bounded bool, budget *atomic.Int64) {
	var (
		conn   net.Conn
		br     *bufio.Reader
		served int // responses on conn so far
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	dialer := net.Dialer{Timeout: 2 * time.Second}
	// Both checks: the context's timer may fire a little after the deadline
	// has already failed a read or a dial.
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if bounded && budget.Add(-1) < 0 {
			return
		}
		if conn == nil {
			c, err := dialer.DialContext(ctx, "tcp", host)
			if err != nil {
				if ctx.Err() == nil && time.Now().Before(deadline) {
					w.fail(err)
					time.Sleep(10 * time.Millisecond) // don't spin on a refused port
				}
				continue
			}
			// The deadline unblocks a read in flight when the run ends.
			_ = c.SetDeadline(deadline)
			conn, br, served = c, bufio.NewReaderSize(c, 32<<10), 0
		}
		t0 := time.Now()
		status, keep, err := roundTrip(conn, br, req)
		took := time.Since(t0)
		if err != nil {
			if time.Now().Before(deadline) {
				w.fail(fmt.Errorf("after %d responses on this connection: %w", served, err))
			}
			conn.Close()
			conn = nil
			continue
		}
		served++
		if !keep {
			conn.Close()
			conn = nil
		}
		if time.Now().After(deadline) {
			return // finished too late to count
		}
		if status >= 200 && status < 300 {
			w.ok++
		} else {
			w.non2xx++
		}
		w.hist.record(took)
	}
}

// roundTrip writes one request and reads its whole response.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (status int, keepAlive bool, err error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close, nil
}

// histogram is a log-linear latency histogram over nanoseconds: exact below
// 2^subBits ns, then 2^subBits buckets per power of two (≤1.6% error).
type histogram struct {
	counts [(64 - subBits + 1) << subBits]uint64
	n      uint64
}

const subBits = 6

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [2^subBits, 2^(subBits+1))
	return e<<subBits + int(v>>e)
}

// bucketMid is the middle of bucket i's value range.
func bucketMid(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	e := i>>subBits - 1
	m := uint64(i - e<<subBits)
	return m<<e + (uint64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the value at quantile q (0..1); 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return 0
}
