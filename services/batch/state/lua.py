"""Lua scripts that move a job's state in one atomic Redis step each.

Every script takes the same keys: the job hash, the set of done chunk indices, the hash of
chunk specs and the global stats hash. A chunk counts once (``SADD`` decides), and the
job is closed exactly once: by the chunk (or the seal of a split) that completes it,
whichever worker runs it. Closing sets the final state, counts it in the stats and starts
the result TTL on the job's keys, and publishes the final state on ``<job key>:closed`` (for
status requests waiting for the job to end). Replies are ``{outcome, state}``.
"""

from __future__ import annotations

_CLOSE = """
local function close(state, now, ttl, err)
  redis.call('HSET', KEYS[1], 'state', state, 'finished_at', now)
  if err ~= '' then redis.call('HSET', KEYS[1], 'error', err) end
  redis.call('HINCRBY', KEYS[4], 'entered:' .. state, 1)
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end
  redis.call('PUBLISH', KEYS[1] .. ':closed', state)
  return state
end

local function finish_if_complete(now, ttl)
  local f = redis.call('HMGET', KEYS[1], 'planned', 'n_chunks', 'chunks_done', 'n_rows',
                       'rows_done')
  if f[1] ~= '1' or tonumber(f[3]) < tonumber(f[2]) then return nil end
  if tonumber(f[4]) ~= tonumber(f[5]) then
    return close('failed', now, ttl, '{"message": "internal error: ' .. f[5] ..
                 ' result rows for ' .. f[4] .. ' input rows", "details": []}')
  end
  return close('succeeded', now, ttl, '')
end

local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', ''} end
if state ~= 'queued' and state ~= 'running' then return {'inactive', state} end
"""

# ARGV: chunk index ('' for a split task), now
BEGIN = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', '', ''} end
if state == 'queued' then
  state = 'running'
  redis.call('HSET', KEYS[1], 'state', state, 'started_at', ARGV[2])
  redis.call('HINCRBY', KEYS[4], 'entered:running', 1)
end
local spec = ''
if ARGV[1] ~= '' then spec = redis.call('HGET', KEYS[3], ARGV[1]) or '' end
return {state, spec, redis.call('HGET', KEYS[1], 'id_column') or ''}
"""

# ARGV: index, rows, positives, now, ttl, model version, then band name/count pairs
DONE = (
    _CLOSE
    + """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return {'duplicate', state} end
redis.call('HINCRBY', KEYS[1], 'rows_done', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'positives', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
redis.call('HSET', KEYS[1], 'model:' .. ARGV[6], '1')
for i = 7, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], 'band:' .. ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBY', KEYS[4], 'rows_scored', ARGV[2])
redis.call('HINCRBY', KEYS[4], 'chunks_scored', 1)
local final = finish_if_complete(ARGV[4], ARGV[5])
if final then return {'finished', final} end
return {'counted', state}
"""
)

# ARGV: number of chunks, number of rows, now, ttl
SEAL = (
    _CLOSE
    + """
redis.call('HSET', KEYS[1], 'planned', '1', 'n_chunks', ARGV[1], 'n_rows', ARGV[2])
local final = finish_if_complete(ARGV[3], ARGV[4])
if final then return {'finished', final} end
return {'sealed', state}
"""
)

# ARGV: new state (failed or cancelled), now, ttl, error JSON ('' for none)
CLOSE = (
    _CLOSE
    + """
return {'closed', close(ARGV[1], ARGV[2], ARGV[3], ARGV[4])}
"""
)
