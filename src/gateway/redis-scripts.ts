/**
 * The Lua scripts of the Redis session store. Each store operation is one script, so it is
 * atomic across every instance sharing the Redis (Redis runs one script at a time): the backlog
 * bounds are checked and the message appended in one step, a claim takes the session's lock,
 * its next message(s) and a cluster-wide slot in one step, and a finish with a stale fence
 * changes nothing. Time in leases is Redis' own clock (`TIME`), so instances with skewed
 * clocks agree on when a lease ran out.
 *
 * Keys under prefix P, for session key k (k is used verbatim; Redis keys are binary safe):
 * - `P s:k` hash: info, createdAt, updatedAt, fence, context, and turnId/turnFence while a
 *   turn runs (the lock); epoch (resets so far) and, once compacted, summary/covers: the
 *   summary stands for the first `covers` entries of `P h:k` (compaction.ts);
 * - `P q:k` list: waiting messages; `P r:k` list: the running turn's messages;
 *   `P h:k` list: history entries (JSON);
 * - `P ready` zset: sessions with messages waiting and no running turn, by arrival sequence;
 * - `P slots` zset: sessions with a running turn, by lease expiry (ms): the global limit;
 * - `P waiting` counter of all waiting messages; `P seq` arrival sequence.
 * - `P seen:k \n platformId` (TTL a day): a message of session k accepted lately, so the same
 *   message delivered again is refused as a duplicate.
 * - `P alive:<instance>` (TTL one lease, refreshed by its instance): the instance is running.
 *   A message is claimed by the instance that accepted it (its home) while that one is alive,
 *   so the reply leaves where the chat is connected (a web chat socket lives in one instance);
 *   any instance claims it once the home is gone (killed, or stopped for good).
 * A queue entry is `seq home \n historyEntryJSON \n queuedMessageJSON`, built so the scripts never
 * parse JSON (cjson would turn `[]` into `{}`): the history entry is prepared by the caller.
 *
 * Key names are built inside the scripts from P, so the store needs one Redis (6.2+), or a
 * compatible server; Redis Cluster is not supported.
 */

const COMMON = `
local P = ARGV[1]
local k = ARGV[2]
local S, Q, R, H = P .. 's:' .. k, P .. 'q:' .. k, P .. 'r:' .. k, P .. 'h:' .. k
local READY, SLOTS, WAITING, SEQ = P .. 'ready', P .. 'slots', P .. 'waiting', P .. 'seq'
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function seq_of(e)
  return tonumber(string.match(e, '^%d+'))
end
-- The instance that accepted a queue entry's message (its home), if the entry names one.
local function home_of(e)
  return string.match(e, '^%d+ ([^\\n]+)\\n')
end
-- Where the three parts of a queue entry (seq, history entry, message) meet.
local function cuts(e)
  local a = string.find(e, '\\n', 1, true)
  return a, string.find(e, '\\n', a + 1, true)
end
-- The history entry (JSON) of a queue entry.
local function entry_of(e)
  local a, b = cuts(e)
  return string.sub(e, a + 1, b - 1)
end
-- The id of a queue entry's message. Decoding only reads the id; nothing decoded is ever
-- written back (so cjson's idea of empty arrays does not matter).
local function id_of(e)
  local _, b = cuts(e)
  local ok, m = pcall(cjson.decode, string.sub(e, b + 1))
  if ok and type(m) == 'table' and type(m.id) == 'string' then return m.id end
  return nil
end
local function mark_ready(q, key)
  local head = redis.call('LINDEX', q, 0)
  if head then redis.call('ZADD', READY, seq_of(head), key) else redis.call('ZREM', READY, key) end
end
-- The running turn of session key goes back to the head of its queue; the fence grows so
-- the turn's late finish is refused.
local function requeue(key)
  local s, q, r = P .. 's:' .. key, P .. 'q:' .. key, P .. 'r:' .. key
  local items = redis.call('LRANGE', r, 0, -1)
  for i = #items, 1, -1 do redis.call('LPUSH', q, items[i]) end
  redis.call('DEL', r)
  if #items > 0 then redis.call('INCRBY', WAITING, #items) end
  if redis.call('EXISTS', s) == 1 then
    redis.call('HDEL', s, 'turnId', 'turnFence')
    redis.call('HINCRBY', s, 'fence', 1)
  end
  redis.call('ZREM', SLOTS, key)
  mark_ready(q, key)
  return #items
end
`;

/**
 * ARGV: P, k, entry, info, now, maxWaiting, maxPerSession, platformId ('' for none), seenTtlS,
 * instance (the accepting instance, the message's home)
 * -> {accepted, reason, waiting, sessionWaiting}. An accepted platform id is kept for seenTtlS
 * under `P seen:k \n id`: the same id again is a `duplicate` (a channel delivering again).
 */
export const ENQUEUE = `${COMMON}
local sw = redis.call('LLEN', Q)
local w = tonumber(redis.call('GET', WAITING) or '0')
local seen = P .. 'seen:' .. k .. '\\n' .. ARGV[8]
if ARGV[8] ~= '' and redis.call('EXISTS', seen) == 1 then return {0, 'duplicate', w, sw} end
if sw >= tonumber(ARGV[7]) then return {0, 'session_busy', w, sw} end
if w >= tonumber(ARGV[6]) then return {0, 'busy', w, sw} end
if ARGV[8] ~= '' then redis.call('SET', seen, '1', 'EX', ARGV[9]) end
local seq = redis.call('INCR', SEQ)
if redis.call('EXISTS', S) == 0 then
  redis.call('HSET', S, 'info', ARGV[4], 'createdAt', ARGV[5], 'updatedAt', ARGV[5], 'fence', 0, 'context', '{}')
else
  redis.call('HSET', S, 'updatedAt', ARGV[5])
end
redis.call('PERSIST', S)
redis.call('PERSIST', H)
redis.call('RPUSH', Q, seq .. ' ' .. ARGV[10] .. '\\n' .. ARGV[3])
w = redis.call('INCR', WAITING)
if redis.call('HEXISTS', S, 'turnId') == 0 then redis.call('ZADD', READY, 'NX', seq, k) end
return {1, 'ok', w, sw + 1}
`;

/**
 * ARGV: P, k, turnId, take, historyLimit, slotLimit, leaseMs, instance ->
 * {1, fence, items, history, context, total, epoch, summary|'', covers}
 * | {0, 'running' | 'empty' | 'away' | 'noslot'} ('away': the head message's home instance is
 * alive and is not this one; it claims it)
 */
export const CLAIM = `${COMMON}
if redis.call('HEXISTS', S, 'turnId') == 1 then return {0, 'running'} end
local n = redis.call('LLEN', Q)
if n == 0 then redis.call('ZREM', READY, k) return {0, 'empty'} end
local home = home_of(redis.call('LINDEX', Q, 0))
if home and home ~= ARGV[8] and redis.call('EXISTS', P .. 'alive:' .. home) == 1 then return {0, 'away'} end
if redis.call('ZCARD', SLOTS) >= tonumber(ARGV[6]) then return {0, 'noslot'} end
local items
if ARGV[4] == 'all' then
  items = redis.call('LRANGE', Q, 0, -1)
  redis.call('DEL', Q)
else
  items = {redis.call('LPOP', Q)}
end
for i = 1, #items do redis.call('RPUSH', R, items[i]) end
redis.call('DECRBY', WAITING, #items)
local fence = redis.call('HINCRBY', S, 'fence', 1)
redis.call('HSET', S, 'turnId', ARGV[3], 'turnFence', fence)
redis.call('ZADD', SLOTS, now_ms() + tonumber(ARGV[7]), k)
redis.call('ZREM', READY, k)
local limit = tonumber(ARGV[5])
local hist = {}
if limit > 0 then hist = redis.call('LRANGE', H, -limit, -1) end
local f = redis.call('HMGET', S, 'context', 'epoch', 'summary', 'covers')
return {1, fence, items, hist, f[1] or '{}', redis.call('LLEN', H), tonumber(f[2] or '0'), f[3] or '', tonumber(f[4] or '0')}
`;

/**
 * ARGV: P, k, turnId, fence, replyJSON|'', contextJSON|'', now, idleTtlMs, absorbed ids... ->
 * {1, sessionWaiting} | {0}. Absorbed ids (steer mode) that still wait leave the queue and are
 * committed after the turn's own messages, in queue order, before the reply; others are ignored.
 */
export const FINISH = `${COMMON}
if redis.call('HGET', S, 'turnId') ~= ARGV[3] or redis.call('HGET', S, 'turnFence') ~= ARGV[4] then return {0} end
local items = redis.call('LRANGE', R, 0, -1)
for i = 1, #items do redis.call('RPUSH', H, entry_of(items[i])) end
if #ARGV > 8 then
  local want = {}
  for i = 9, #ARGV do want[ARGV[i]] = true end
  local taken = 0
  for _, e in ipairs(redis.call('LRANGE', Q, 0, -1)) do
    local id = id_of(e)
    if id and want[id] then
      redis.call('LREM', Q, 1, e)
      redis.call('RPUSH', H, entry_of(e))
      taken = taken + 1
    end
  end
  if taken > 0 then redis.call('DECRBY', WAITING, taken) end
end
if ARGV[5] ~= '' then redis.call('RPUSH', H, ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', S, 'context', ARGV[6]) end
redis.call('DEL', R)
redis.call('HDEL', S, 'turnId', 'turnFence')
redis.call('HSET', S, 'updatedAt', ARGV[7])
redis.call('ZREM', SLOTS, k)
local sw = redis.call('LLEN', Q)
mark_ready(Q, k)
if sw == 0 and tonumber(ARGV[8]) > 0 then
  redis.call('PEXPIRE', S, ARGV[8])
  redis.call('PEXPIRE', H, ARGV[8])
end
return {1, sw}
`;

/** ARGV: P, k, turnId, fence, leaseMs -> 1 (renewed) | 0 (not this turn any more) */
export const RENEW = `${COMMON}
if redis.call('HGET', S, 'turnId') ~= ARGV[3] or redis.call('HGET', S, 'turnFence') ~= ARGV[4] then return 0 end
redis.call('ZADD', SLOTS, now_ms() + tonumber(ARGV[5]), k)
return 1
`;

/** ARGV: P, k, turnId, fence -> items requeued, or -1 if that turn is not running */
export const RELEASE = `${COMMON}
if redis.call('HGET', S, 'turnId') ~= ARGV[3] or redis.call('HGET', S, 'turnFence') ~= ARGV[4] then return -1 end
return requeue(k)
`;

/** ARGV: P, k, now, idleTtlMs -> abortedTurnId | '' (false if the session does not exist) */
export const RESET = `${COMMON}
if redis.call('EXISTS', S) == 0 then return false end
local aborted = redis.call('HGET', S, 'turnId') or ''
redis.call('DEL', R, H)
redis.call('ZREM', SLOTS, k)
redis.call('HDEL', S, 'turnId', 'turnFence', 'summary', 'covers')
redis.call('HINCRBY', S, 'fence', 1)
redis.call('HINCRBY', S, 'epoch', 1)
redis.call('HSET', S, 'context', '{}', 'updatedAt', ARGV[3])
mark_ready(Q, k)
if redis.call('LLEN', Q) == 0 and tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', S, ARGV[4]) end
return aborted
`;

/**
 * Record a summary of the first `covers` history entries (history compaction). Stale, and
 * nothing changes, when the session was reset since (epoch), `covers` is beyond the history
 * or not beyond the current summary: the same rule as the file store's `compact` event.
 * ARGV: P, k, epoch, covers, text -> 1 | 0
 */
export const COMPACT = `${COMMON}
if redis.call('EXISTS', S) == 0 then return 0 end
local f = redis.call('HMGET', S, 'epoch', 'covers')
local covers = tonumber(ARGV[4])
if tonumber(f[1] or '0') ~= tonumber(ARGV[3]) then return 0 end
if covers > redis.call('LLEN', H) or covers <= tonumber(f[2] or '0') then return 0 end
redis.call('HSET', S, 'summary', ARGV[5], 'covers', covers)
return 1
`;

/**
 * Requeue turns whose lease ran out (their instance died or lost Redis).
 * ARGV: P, '' (no session), max -> {keys requeued}
 */
export const SWEEP = `${COMMON}
local expired = redis.call('ZRANGEBYSCORE', SLOTS, '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #expired do requeue(expired[i]) end
return expired
`;
