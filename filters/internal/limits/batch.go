package limits

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// pipelineAbove is how many decisions must be in flight on one client
// before a new one joins a pipeline instead of taking a connection of its
// own. Below it a decision is one EVALSHA round trip, the lowest latency;
// above it, round trips (and Redis's per-command syscalls) dominate, and
// one pipeline of n scripts costs about one round trip.
const pipelineAbove = 4

// batcher pipelines script runs that wait on the same client at once. It
// keeps no goroutine: the first caller to find no pipeline in flight leads
// one with everything queued so far; callers arriving meanwhile queue, and
// when the pipeline returns the first of them leads the next. Each batch's
// deadline is its oldest call's start plus the store's timeout, so no
// decision waits longer than it would alone. The choice of our own small
// batcher over go-redis's AutoPipeliner is in docs/rationale.md.
type batcher struct {
	client   redis.UniversalClient
	timeout  time.Duration
	inflight atomic.Int64
	batched  atomic.Uint64 // calls that ran in a pipeline of more than one

	mu       sync.Mutex
	pending  []*call
	flushing bool
	closed   bool
}

type call struct {
	script *redis.Script
	keys   []string
	args   []any
	start  time.Time

	res  []int64
	err  error
	lead []*call // set when this call must lead the next batch
	done chan struct{}
}

func newBatcher(client redis.UniversalClient, timeout time.Duration) *batcher {
	return &batcher{client: client, timeout: timeout}
}

func (b *batcher) run(script *redis.Script, keys []string, args []any) ([]int64, error) {
	defer b.inflight.Add(-1)
	if b.inflight.Add(1) <= pipelineAbove {
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		defer cancel()
		return script.Run(ctx, b.client, keys, args...).Int64Slice()
	}
	c := &call{script: script, keys: keys, args: args, start: time.Now(), done: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, redis.ErrClosed
	}
	b.pending = append(b.pending, c)
	if b.flushing {
		b.mu.Unlock()
		<-c.done
		if c.lead == nil {
			return c.res, c.err
		}
		b.flush(c.lead)
		return c.res, c.err
	}
	b.flushing = true
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	b.flush(batch)
	return c.res, c.err
}

// flush runs batch as one pipeline, hands the next batch to its first
// call, and then wakes the batch's callers.
func (b *batcher) flush(batch []*call) {
	ctx, cancel := context.WithDeadline(context.Background(), batch[0].start.Add(b.timeout))
	defer cancel()
	b.exec(ctx, batch)

	b.mu.Lock()
	var next []*call
	if len(b.pending) > 0 {
		next = b.pending
		b.pending = nil
	} else {
		b.flushing = false
	}
	b.mu.Unlock()
	for _, c := range batch {
		if c.lead == nil { // the leader's own call is not waiting
			c.done <- struct{}{}
		}
	}
	if next != nil {
		next[0].lead = next
		next[0].done <- struct{}{}
	}
}

// exec runs every call of batch with EVALSHA in one pipeline; a call that
// found the script missing (NOSCRIPT: a failover to a replica whose script
// cache is empty, a SCRIPT FLUSH) runs again alone, loading it.
func (b *batcher) exec(ctx context.Context, batch []*call) {
	pipe := b.client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, c := range batch {
		cmds[i] = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	if len(batch) > 1 {
		b.batched.Add(uint64(len(batch)))
	}
	for i, c := range batch {
		c.res, c.err = cmds[i].Int64Slice()
		if c.err != nil && strings.HasPrefix(c.err.Error(), "NOSCRIPT") {
			c.res, c.err = c.script.Run(ctx, b.client, c.keys, c.args...).Int64Slice()
		}
	}
}

// close refuses new batched calls; calls in flight finish.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}
