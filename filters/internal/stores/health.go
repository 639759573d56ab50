package stores

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Unreachable reports whether err means Redis could not answer for the
// data: no answer (network error, timeout, pool exhausted), or an answer
// that says the data is unavailable for now (a cluster without a master
// for the slot, a replica being promoted or loading, a master that lost
// its replicas). A Redis error about the command itself (a script error)
// is not: Redis is there.
func Unreachable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	msg := rerr.Error()
	for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "MASTERDOWN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// refreshEvery bounds slot-map reloads after failures.
const refreshEvery = 200 * time.Millisecond

// SlotRefresh reloads a cluster client's slot map after a command could
// not reach its node. go-redis reloads it by itself on MOVED, but a master
// that died answers nothing, and the library's own periodic reload comes
// only a minute later: until then every command for the dead master's
// slots fails, even after its replica was promoted. At most one reload
// runs at a time, and at most one starts per 200ms, whatever the traffic.
// For a client that is not a cluster client it does nothing.
type SlotRefresh struct {
	cluster *redis.ClusterClient
	last    atomic.Int64 // UnixNano of the last reload's start
	busy    atomic.Bool
}

// NewSlotRefresh returns the refresher of client.
func NewSlotRefresh(client redis.UniversalClient) *SlotRefresh {
	cc, _ := client.(*redis.ClusterClient)
	return &SlotRefresh{cluster: cc}
}

// After reloads the slot map in the background when err says a node could
// not be reached.
func (r *SlotRefresh) After(err error) {
	if r == nil || r.cluster == nil || !Unreachable(err) {
		return
	}
	now := time.Now().UnixNano()
	if now-r.last.Load() < int64(refreshEvery) || !r.busy.CompareAndSwap(false, true) {
		return
	}
	r.last.Store(now)
	go func() {
		defer r.busy.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r.cluster.ReloadState(ctx)
	}()
}
