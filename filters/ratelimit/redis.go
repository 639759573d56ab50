package ratelimit

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript is one decision, atomic in Redis. Time is Redis's own clock
// (TIME), so instances with skewed clocks still share one timeline; it is in
// microseconds, which Lua's doubles hold exactly for centuries.
//
// KEYS[1]  the key's TAT: <prefix>{rl:<route>:<policy>:<key>}, the hash tag
//
//	naming the whole key so a cluster puts it in one slot
//
// ARGV[1]  emission interval, µs
// ARGV[2]  tolerance (burst × interval), µs
//
// Returns {allowed, remaining, retry µs, reset µs}. A refusal writes
// nothing, so rejected requests never consume.
var gcraScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local nxt = tat + interval
local allow_at = nxt - tolerance
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {1, math.floor((now + tolerance - nxt) / interval), 0, nxt - now}
`)

// remote decides p through the shared store.
func (f *Filter) remote(p *policy, key string) (decision, error) {
	res, err := f.store.RunBatched(gcraScript, []string{p.keyPrefix + key + "}"}, p.intervalUS, p.toleranceUS)
	if err != nil {
		return decision{}, err
	}
	if len(res) != 4 {
		return decision{}, errBadReply
	}
	return decision{
		allowed:   res[0] == 1,
		remaining: res[1],
		retry:     time.Duration(res[2]) * time.Microsecond,
		reset:     time.Duration(res[3]) * time.Microsecond,
	}, nil
}
