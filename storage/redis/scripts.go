package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts. Every change that touches a session or its gallery and
// appends an event is one script, so that Redis runs it as one atomic step
// with nothing interleaved: the quota and duplicate checks, the write and
// the XADD can never disagree, whichever instance sent them. Reads that
// must see several keys at one moment (Images and its last event id; Read
// and the session's state) are scripts for the same reason.
//
// Each script answers a code first: "ok", or "live"/"ended"/"tomb"/"none"
// for the session's state, or a refusal ("dup", "quota", "noimage",
// "eventgone", "idinuse", "tokeninuse", "imageinuse", "same"); Go maps the
// codes to the storage errors (see codeErr).
//
// Times are stored as fixed-width UTC strings (timeLayout), so a byte-wise
// comparison is a chronological one; scores are milliseconds. Redis's own
// clock (TIME) is read only to place the backstop TTLs, never to judge a
// session: that is the caller's clock.

// luaPrelude is the helpers every script shares.
const luaPrelude = `
local function state(s, x)
  if redis.call('EXISTS', s) == 1 then
    if redis.call('HGET', s, 'ended') == '1' then return 'ended' end
    return 'live'
  end
  if redis.call('EXISTS', x) == 1 then return 'tomb' end
  return 'none'
end

-- later reports whether time string a is after b. Byte by byte, so that
-- no locale's collation (Lua compares strings with strcoll) gets a say.
local function later(a, b)
  if #a ~= #b then return #a > #b end
  for i = 1, #a do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x > y end
  end
  return false
end

local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- backstop is when a session's keys lapse by themselves: grace after its
-- end, and never less than grace from now (Redis's clock), so a record
-- written late is not deleted at once.
local function backstop(expms, grace)
  return math.max(expms, nowms()) + grace
end

-- follow gives keys a write may just have created the record's TTL.
local function follow(s, ...)
  local ttl = redis.call('PTTL', s)
  if ttl > 0 then
    for _, k in ipairs({...}) do redis.call('PEXPIRE', k, ttl) end
  end
end

-- sessionJSON is the record as a "session" event carries it: the hash's
-- public fields, all strings.
local function sessionJSON(s)
  local f = redis.call('HGETALL', s)
  local t = {}
  for i = 1, #f, 2 do t[f[i]] = f[i + 1] end
  t.seq = nil
  t.ended = nil
  return cjson.encode(t)
end

local function withRecord(code, s)
  local r = redis.call('HGETALL', s)
  table.insert(r, 1, code)
  return r
end
`

func newScript(body string) *goredis.Script { return goredis.NewScript(luaPrelude + body) }

// scriptCreate: KEYS s x t k expiry i o h e z; ARGV id token created upexp
// exp expms grace. Leftover keys of an id's earlier life (a lapsed TTL, a
// purged tombstone's stub) are cleared first.
var scriptCreate = newScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 'idinuse' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'tokeninuse' end
redis.call('DEL', KEYS[4], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'token', ARGV[2], 'created', ARGV[3],
  'upexp', ARGV[4], 'exp', ARGV[5], 'images', '0', 'bytes', '0', 'seq', '0')
redis.call('SET', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
local at = backstop(tonumber(ARGV[6]), tonumber(ARGV[7]))
for _, k in ipairs({KEYS[1], KEYS[3], KEYS[4]}) do redis.call('PEXPIREAT', k, at) end
return 'ok'
`)

// scriptSession: KEYS s x. The record with its state, or the tombstone's
// end time.
var scriptSession = newScript(`
local st = state(KEYS[1], KEYS[2])
if st == 'live' or st == 'ended' then return withRecord(st, KEYS[1]) end
if st == 'tomb' then return {'tomb', redis.call('HGET', KEYS[2], 'ended') or ''} end
return {'none'}
`)

// scriptRenew: KEYS s x tnew k e; ARGV token upexp id maxlen.
var scriptRenew = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'tokeninuse'} end
redis.call('SET', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'upexp', ARGV[2])
local ev = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 't', 'session', 'd', sessionJSON(KEYS[1]))
follow(KEYS[1], KEYS[3], KEYS[4], KEYS[5])
return withRecord(ev, KEYS[1])
`)

// scriptExtend: KEYS s x e k i o h expiry z; ARGV exp expms grace id maxlen
// prefix. Moving the end moves the backstop TTL of every key of the
// session, its upload tokens' included (read from the token set).
var scriptExtend = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
if not later(ARGV[1], redis.call('HGET', KEYS[1], 'exp')) then return withRecord('same', KEYS[1]) end
redis.call('HSET', KEYS[1], 'exp', ARGV[1])
redis.call('ZADD', KEYS[8], ARGV[2], ARGV[4])
local ev = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 't', 'session', 'd', sessionJSON(KEYS[1]))
local at = backstop(tonumber(ARGV[2]), tonumber(ARGV[3]))
for _, k in ipairs({KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[9]}) do redis.call('PEXPIREAT', k, at) end
for _, tok in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('PEXPIREAT', ARGV[6] .. 't:' .. tok, at)
end
return withRecord(ev, KEYS[1])
`)

// scriptEnd: KEYS s x e expiry; ARGV at id maxlen. An ended session
// scores -inf in the expiry set: it is due whatever the time.
var scriptEnd = newScript(`
local st = state(KEYS[1], KEYS[2])
if st == 'ended' then return 'ok' end
if st ~= 'live' then return st end
redis.call('HSET', KEYS[1], 'exp', ARGV[1], 'ended', '1')
redis.call('ZADD', KEYS[4], '-inf', ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 't', 'ended')
follow(KEYS[1], KEYS[3])
return 'ok'
`)

// scriptDelete: KEYS s x e k i o h expiry tombs z; ARGV id until untilms
// tombgrace stubms prefix. The log's entries go, but its key stays for
// stubms with one "ended" entry: a blocked XREAD is woken by an entry, not
// by its key being deleted. The token set and the token keys stay with
// the tombstone, which PurgeTombstones (or the TTL) takes.
var scriptDelete = newScript(`
local ended
if redis.call('EXISTS', KEYS[1]) == 1 then
  ended = redis.call('HGET', KEYS[1], 'exp') or ''
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  return 'ok'
elseif redis.call('ZSCORE', KEYS[8], ARGV[1]) then
  ended = ''
else
  return 'none'
end
redis.call('DEL', KEYS[1], KEYS[5], KEYS[6], KEYS[7], KEYS[10])
redis.call('XTRIM', KEYS[3], 'MAXLEN', '0')
redis.call('XADD', KEYS[3], '*', 't', 'ended')
redis.call('PEXPIRE', KEYS[3], ARGV[5])
redis.call('HSET', KEYS[2], 'ended', ended, 'until', ARGV[2])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('ZADD', KEYS[9], ARGV[3], ARGV[1])
local at = math.max(tonumber(ARGV[3]), nowms()) + tonumber(ARGV[4])
redis.call('PEXPIREAT', KEYS[2], at)
redis.call('PEXPIREAT', KEYS[4], at)
for _, tok in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('PEXPIREAT', ARGV[6] .. 't:' .. tok, at)
end
return 'ok'
`)

// scriptPurge: KEYS tombs; ARGV nowms prefix batch. It forgets up to
// batch tombstones that are due, with their tokens, and says how many.
var scriptPurge = newScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local tag = '{' .. id .. '}'
  local k = ARGV[2] .. 'k:' .. tag
  for _, tok in ipairs(redis.call('SMEMBERS', k)) do
    local tk = ARGV[2] .. 't:' .. tok
    if redis.call('GET', tk) == id then redis.call('DEL', tk) end
  end
  redis.call('DEL', k, ARGV[2] .. 'x:' .. tag, ARGV[2] .. 'e:' .. tag)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
`)

// scriptAdd: KEYS s x i o h e z; ARGV imageid json sha size maxImages
// maxBytes maxlen. A duplicate wins over a full quota, as in every
// backend: the phone hears the photo is there already. The size index
// takes the image if it holds the whole gallery: it is made when the
// gallery is empty, so a session older than it stays without one.
var scriptAdd = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
if ARGV[3] ~= '' then
  local ex = redis.call('HGET', KEYS[5], ARGV[3])
  if ex then
    local j = redis.call('HGET', KEYS[3], ex)
    if j then return {'dup', j} end
  end
end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return {'imageinuse'} end
local n = tonumber(redis.call('HGET', KEYS[1], 'images'))
local b = tonumber(redis.call('HGET', KEYS[1], 'bytes'))
local maxI, maxB = tonumber(ARGV[5]), tonumber(ARGV[6])
if maxI > 0 and n + 1 > maxI then return {'quota', 'images'} end
if maxB > 0 and b + tonumber(ARGV[4]) > maxB then return {'quota', 'bytes'} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[5], ARGV[3], ARGV[1]) end
if n == 0 or redis.call('EXISTS', KEYS[7]) == 1 then redis.call('ZADD', KEYS[7], ARGV[4], ARGV[1]) end
redis.call('HINCRBY', KEYS[1], 'images', 1)
redis.call('HINCRBY', KEYS[1], 'bytes', ARGV[4])
local ev = redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[7], '*', 't', 'image', 'd', ARGV[2])
follow(KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
return {'ok', ev}
`)

// scriptRemove: KEYS s x i o h e z; ARGV imageid maxlen. The image's size
// and hash come from its own record, so the counts cannot drift.
var scriptRemove = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
local j = redis.call('HGET', KEYS[3], ARGV[1])
if not j then return {'noimage'} end
local img = cjson.decode(j)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
local sha = img.sha256
if type(sha) == 'string' and sha ~= '' and redis.call('HGET', KEYS[5], sha) == ARGV[1] then
  redis.call('HDEL', KEYS[5], sha)
end
redis.call('HINCRBY', KEYS[1], 'images', -1)
if type(img.size) == 'number' then
  redis.call('HINCRBY', KEYS[1], 'bytes', string.format('%d', -img.size))
end
local ev = redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[2], '*', 't', 'removed', 'd', ARGV[1])
follow(KEYS[1], KEYS[6])
return {'ok', ev}
`)

// scriptImage: KEYS s x i; ARGV imageid.
var scriptImage = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
local j = redis.call('HGET', KEYS[3], ARGV[1])
if not j then return {'noimage'} end
return {'ok', j}
`)

// scriptImageBySHA: KEYS s x h i; ARGV sha256. The image with those
// bytes, through the duplicate index.
var scriptImageBySHA = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
local id = redis.call('HGET', KEYS[3], ARGV[1])
if not id then return {'noimage'} end
local j = redis.call('HGET', KEYS[4], id)
if not j then return {'noimage'} end
return {'ok', j}
`)

// scriptHasSized: KEYS s x z i; ARGV lo hi. "ok" if the gallery holds an
// image of lo to hi bytes: through the size index, or, for a session
// older than it, by reading the gallery.
var scriptHasSized = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 or tonumber(redis.call('HGET', KEYS[1], 'images')) == 0 then
  if #redis.call('ZRANGEBYSCORE', KEYS[3], lo, hi, 'LIMIT', 0, 1) > 0 then return {'ok'} end
  return {'noimage'}
end
for _, j in ipairs(redis.call('HVALS', KEYS[4])) do
  local size = cjson.decode(j).size
  if type(size) == 'number' and size >= lo and size <= hi then return {'ok'} end
end
return {'noimage'}
`)

// scriptImages: KEYS s x o i e. The gallery oldest first and the log's
// last id, at one moment.
var scriptImages = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
local last = ''
local l = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)
if l[1] then last = l[1][1] end
local r = {'ok', last}
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local j = redis.call('HGET', KEYS[4], id)
  if j then r[#r + 1] = j end
end
return r
`)

// scriptRead: KEYS s x e; ARGV after count. The session's state, whether
// after is in the log, and what follows it, at one moment.
var scriptRead = newScript(`
local st = state(KEYS[1], KEYS[2])
if st ~= 'live' then return {st} end
local start = '-'
if ARGV[1] ~= '' then
  if #redis.call('XRANGE', KEYS[3], ARGV[1], ARGV[1]) == 0 then return {'eventgone'} end
  start = '(' .. ARGV[1]
end
local r
if tonumber(ARGV[2]) > 0 then
  r = redis.call('XRANGE', KEYS[3], start, '+', 'COUNT', ARGV[2])
else
  r = redis.call('XRANGE', KEYS[3], start, '+')
end
return {'ok', r}
`)

// scriptKick: KEYS ctl; ARGV ttlms. One entry in a handle's control
// stream ends its hub's XREAD BLOCK, so a newly watched stream is covered
// at once. The stream keeps one entry and lapses when the handle is gone.
var scriptKick = goredis.NewScript(`
redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'k', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)
