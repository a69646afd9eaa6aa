/**
 * Lua scripts of the Redis bus. Each runs atomically on the server, so a batch is one round trip and
 * no other client sees half of it.
 */

/** What {@link PUBLISH_LUA} answers (followed by `:<server time in ms>`) for a publish past its deadline. */
export const STALE_REPLY = 'uee:stale';

/**
 * Publish. KEYS[1] = stream, KEYS[2..] = one de-duplication key per event; ARGV[1] = window (ms),
 * ARGV[2] = the publish's deadline in ms since the epoch by the server's clock ('0' for none; see
 * PublishOptions.readAt), ARGV[3..] = the encoded events. Past the deadline nothing is appended and
 * the answer is {@link STALE_REPLY}`:<now>`. An event is appended only when its key could be created
 * (SET NX PX), so each eventId is appended exactly once per window, including twice in one batch.
 * Returns the new ids, `false` (nil) for duplicates.
 */
export const PUBLISH_LUA = `
if ARGV[2] ~= '0' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now > tonumber(ARGV[2]) then return '${STALE_REPLY}:' .. now end
end
local ids = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then
    ids[i - 1] = redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1])
  else
    ids[i - 1] = false
  end
end
return ids
`;

/**
 * Settles de-duplication keys (EventBus.settle): KEYS = the keys, ARGV[1] = ms they still live. Only
 * shortens: a key already lapsing sooner keeps its time; a missing key stays missing. Redis 7
 * (`REDIS_VERSION_NUM` is set from 7.0) does that in one command (`PEXPIRE … LT`), 6.2 in two.
 */
export const SETTLE_LUA = `
local ms = tonumber(ARGV[1])
if redis.REDIS_VERSION_NUM then
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ms, 'LT') end
else
  for i = 1, #KEYS do
    if redis.call('PTTL', KEYS[i]) > ms then redis.call('PEXPIRE', KEYS[i], ms) end
  end
end
return #KEYS
`;

/**
 * Claim stale entries (see EventBus.claimStale). KEYS[1] = stream; ARGV = group, consumer, min idle
 * ms, count, heartbeat key prefix ('' for none). Walks the PEL in stream order, a page at a time, and
 * claims each entry that is idle long enough or held by a consumer whose process heartbeat has lapsed
 * (the owner is gone, not slow); it stops at the first entry that is neither, whoever holds it, so
 * nothing is claimed past an entry still in someone's hands. Entries trimmed from the stream are
 * dropped from the PEL and counted. Returns { entries, delivery counts, dropped }. ARGV[6] = a lease
 * key ('' for none): the caller claims only while the key names it (the consumer), else nothing is
 * claimed and the answer is { {}, {}, 0, 1 } (fenced: see ReadOptions.lease).
 */
export const CLAIM_LUA = `
if ARGV[6] ~= '' and redis.call('GET', ARGV[6]) ~= ARGV[2] then return { {}, {}, 0, 1 } end
local want = tonumber(ARGV[4])
local minIdle = tonumber(ARGV[3])
local entries, counts, deleted = {}, {}, 0
local alive = {}
local start = '-'
for _ = 1, 16 do
  local page = redis.call('XPENDING', KEYS[1], ARGV[1], start, '+', want - #entries)
  if #page == 0 then break end
  for _, p in ipairs(page) do
    local owner = p[2]
    local take = p[3] >= minIdle
    if not take and ARGV[5] ~= '' and owner ~= ARGV[2] then
      if alive[owner] == nil then alive[owner] = redis.call('EXISTS', ARGV[5] .. owner) == 1 end
      take = not alive[owner]
    end
    if not take then return { entries, counts, deleted } end
    local entry = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, p[1])[1]
    if type(entry) == 'table' and entry[2] then
      entries[#entries + 1] = entry
      counts[#counts + 1] = p[4] + 1
    else
      redis.call('XACK', KEYS[1], ARGV[1], p[1])
      deleted = deleted + 1
    end
  end
  if #entries >= want then break end
  start = '(' .. page[#page][1]
end
return { entries, counts, deleted }
`;

/**
 * Lease renewal. KEYS[1] = stream; ARGV = group, consumer, ids. Each entry still pending for that
 * consumer is claimed again by it with JUSTID (idle time reset, delivery count unchanged); an entry
 * another consumer took meanwhile is left alone. Returns how many were renewed.
 */
export const RENEW_LUA = `
local n = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)[1]
  if p and p[2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
`;

/**
 * Hand back (see EventBus.handBack). KEYS[1] = stream; ARGV = group, consumer, then (entry id,
 * delivery count it was delivered with) pairs. XCLAIM to the entry's current owner with RETRYCOUNT
 * sets the count without moving it; IDLE of the server time in whole seconds makes it stale (XCLAIM
 * treats an IDLE above the clock as 0). Returns how many were handed back.
 */
export const HAND_BACK_LUA = `
local now = redis.call('TIME')[1] .. '000'
local n = 0
for i = 3, #ARGV, 2 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)[1]
  local seen = tonumber(ARGV[i + 1])
  if p and p[2] == ARGV[2] and p[4] == seen then
    redis.call('XCLAIM', KEYS[1], ARGV[1], p[2], 0, ARGV[i], 'IDLE', now, 'RETRYCOUNT', seen - 1, 'JUSTID')
    n = n + 1
  elseif p and p[2] ~= ARGV[2] and p[4] > seen then
    redis.call('XCLAIM', KEYS[1], ARGV[1], p[2], 0, ARGV[i], 'IDLE', p[3], 'RETRYCOUNT', p[4] - 1, 'JUSTID')
    n = n + 1
  end
end
return n
`;

/**
 * Dead letters by tenant. Every letter is an entry of the dead-letter stream (ids unique across
 * tenants; field `t` its tenant key, '' for the platform's own), and its id is also pushed on its
 * tenant's index, a list in id order (`<indexPrefix><tenant>`); a sorted set holds each tenant's
 * index length. A tenant's letters are listed and trimmed through its index, without reading anyone
 * else's.
 */
const DEAD_INDEX_HELPERS = `
local function xdel_all(dead, ids)
  for i = 1, #ids, 1000 do redis.call('XDEL', dead, unpack(ids, i, math.min(i + 999, #ids))) end
end
-- Drops the oldest count ids of tenant t's index and their letters; returns how many.
local function trim_tenant(dead, sizes, prefix, t, count)
  local key = prefix .. t
  local ids = redis.call('LPOP', key, count)
  if not ids then redis.call('ZREM', sizes, t) return 0 end
  xdel_all(dead, ids)
  local left = redis.call('LLEN', key)
  if left == 0 then redis.call('ZREM', sizes, t) else redis.call('ZADD', sizes, left, t) end
  return #ids
end
-- Records tenant t's index length after letters were added, then drops its oldest beyond maxPer;
-- returns how many went.
local function bound_tenant(dead, sizes, prefix, t, maxPer)
  local mine = redis.call('LLEN', prefix .. t)
  redis.call('ZADD', sizes, mine, t)
  local over = mine - maxPer
  if over > 0 then return trim_tenant(dead, sizes, prefix, t, over) end
  return 0
end
-- Past maxAll letters in all, drops the oldest of the tenant holding the most (never those of a
-- tenant holding fewer) until none is over; returns how many went.
local function bound_all(dead, sizes, prefix, maxAll)
  local trimmed = 0
  local excess = redis.call('XLEN', dead) - maxAll
  while excess > 0 do
    local most = redis.call('ZREVRANGE', sizes, 0, 0, 'WITHSCORES')
    if #most == 0 then break end
    local cut = trim_tenant(dead, sizes, prefix, most[1], math.min(excess, tonumber(most[2])))
    if cut == 0 then break end
    trimmed = trimmed + cut
    excess = excess - cut
  end
  return trimmed
end
`;

/**
 * Dead-letter. KEYS[1] = stream, KEYS[2] = dead-letter stream, KEYS[3] = the tenant's index,
 * KEYS[4] = the sorted set of index lengths; ARGV = group, holder ('' for any), tenant key, max per
 * tenant, max in all, index prefix, then (entry id, record) pairs — all of one tenant. Each entry is
 * acked and, only if it was still pending (and held by the holder, when one is named), appended to
 * the dead-letter stream and its tenant's index: two workers racing on a reclaimed entry record it
 * once, and one whose entry was claimed by another records nothing. Then the tenant's oldest beyond
 * its bound go, and past the bound in all the oldest of the tenant holding the most (never those of a
 * tenant holding fewer). Returns { recorded, trimmed }.
 */
export const DEAD_LETTER_LUA = `
${DEAD_INDEX_HELPERS}
local n = 0
for i = 7, #ARGV, 2 do
  local held = ARGV[2] == ''
  if not held then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)[1]
    held = p ~= nil and p[2] == ARGV[2]
  end
  if held and redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    local id = redis.call('XADD', KEYS[2], '*', 'g', ARGV[1], 't', ARGV[3], 'd', ARGV[i + 1])
    redis.call('RPUSH', KEYS[3], id)
    n = n + 1
  end
end
if n == 0 then return {0, 0} end
local trimmed = bound_tenant(KEYS[2], KEYS[4], ARGV[6], ARGV[3], tonumber(ARGV[4]))
trimmed = trimmed + bound_all(KEYS[2], KEYS[4], ARGV[6], tonumber(ARGV[5]))
return {n, trimmed}
`;

/**
 * Removes dead letters. KEYS[1] = dead-letter stream, KEYS[2] = the sorted set of index lengths;
 * ARGV = index prefix, then ids. Each letter found is removed from its tenant's index and the stream;
 * returns how many were removed (a letter removed by one caller is not counted by another).
 */
export const DELETE_DEAD_LUA = `
local n = 0
for i = 2, #ARGV do
  local found = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])[1]
  if found then
    local t = ''
    for j = 1, #found[2], 2 do if found[2][j] == 't' then t = found[2][j + 1] end end
    local key = ARGV[1] .. t
    redis.call('LREM', key, 1, ARGV[i])
    local left = redis.call('LLEN', key)
    if left == 0 then redis.call('ZREM', KEYS[2], t) else redis.call('ZADD', KEYS[2], left, t) end
    n = n + redis.call('XDEL', KEYS[1], ARGV[i])
  end
end
return n
`;

/**
 * Indexes letters of a dead-letter stream written before the index (or by an older UEE, whose letters
 * carry no tenant field). KEYS[1] = the sorted set of index lengths; ARGV = index prefix, then
 * (id, tenant key) pairs in id order. Returns how many were indexed.
 */
export const INDEX_DEAD_LUA = `
local lens = {}
for i = 2, #ARGV, 2 do
  local key = ARGV[1] .. ARGV[i + 1]
  redis.call('RPUSH', key, ARGV[i])
  lens[ARGV[i + 1]] = key
end
for t, key in pairs(lens) do redis.call('ZADD', KEYS[1], redis.call('LLEN', key), t) end
return (#ARGV - 1) / 2
`;

/** Lua helpers shared by the retention scripts: stream ids compared as (ms, seq) numbers. */
const ID_HELPERS = `
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local function after(id)
  local m, s = parse(id)
  return m .. '-' .. (s + 1)
end
local function field(flat, name)
  for i = 1, #flat, 2 do if flat[i] == name then return flat[i + 1] end end
  return nil
end
-- The oldest id any group of the stream still needs (first pending, else first unread), or nil.
-- Groups in the set named by advisory are ignored.
local function oldest_needed(key, advisory)
  local needed, holder = nil, nil
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local name = field(g, 'name')
    if redis.call('SISMEMBER', advisory, name) == 0 then
      local mine = after(field(g, 'last-delivered-id'))
      if tonumber(field(g, 'pending')) > 0 then
        local first = redis.call('XPENDING', key, name)[2]
        if first and less(first, mine) then mine = first end
      end
      if needed == nil or less(mine, needed) then needed, holder = mine, name end
    end
  end
  return needed, holder
end
`;

/**
 * Retention of the event stream. KEYS[1] = stream, KEYS[2] = the set of advisory groups; ARGV[1] = max length. Trims the oldest entries
 * beyond the cap, but never one a group still needs (pending or unread): when the cap would cut into
 * them, trims only up to the oldest needed entry. Returns { entries kept over the cap (0 when none),
 * the group holding them back }.
 */
export const TRIM_LUA = `${ID_HELPERS}
local max = tonumber(ARGV[1])
local len = redis.call('XLEN', KEYS[1])
if len <= max then return { 0, '' } end
local excess = len - max
local needed, holder = oldest_needed(KEYS[1], KEYS[2])
if needed == nil then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', max)
  return { 0, '' }
end
local probe = math.min(excess, 10000)
local before = redis.call('XRANGE', KEYS[1], '-', '(' .. needed, 'COUNT', probe)
if #before >= excess then
  redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', max)
  return { 0, '' }
end
redis.call('XTRIM', KEYS[1], 'MINID', needed)
if #before >= probe then return { 0, '' } end
return { excess - #before, holder }
`;

/**
 * Retention of one queue (a stream with a single group): drops the entries before the group's first
 * pending or unread one. KEYS[1] = queue stream, KEYS[2] = the set of advisory groups. Returns how many were trimmed.
 */
export const TRIM_QUEUE_LUA = `${ID_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local needed = oldest_needed(KEYS[1], KEYS[2])
if needed == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', needed)
`;

/** The consumer a queue's overflow reads its oldest undelivered entries as, inside {@link OVERFLOW_HELPERS} only. */
export const OVERFLOW_CONSUMER = 'uee-overflow';

/**
 * A queue's overflow (BusOptions.maxQueueLength), shared by {@link ROUTE_LUA} and {@link OVERFLOW_LUA};
 * needs ID_HELPERS and DEAD_INDEX_HELPERS. `overflow` dead-letters the oldest undelivered entries
 * of a queue stream (one group) beyond the cap, at most `limit` of them: it reads them with
 * XREADGROUP as the consumer {@link OVERFLOW_CONSUMER} — the group moves past them as a delivery would,
 * keeping its lag exact — records each as a dead letter under its event's tenant, acks them and
 * removes that consumer, in the script that runs it. So each entry is either still queued, delivered
 * to the queue's reader, or one dead letter: never two of these, never none, whatever other
 * processes do, and a process that dies leaves nothing half-done. Delivered entries (pending) are
 * never read or acked; the reader gets what follows the lettered ones, in order, as if it had skipped
 * them. Letters are written before the acks: a script failing half-way (out of memory) could leave
 * entries pending to that consumer — claimStale hands them to the queue's reader — never acked
 * without their letter. Then the tenants' letters are bounded as {@link DEAD_LETTER_LUA} bounds them
 * and the queue trimmed as {@link TRIM_QUEUE_LUA} trims it (the lettered entries leave it at once
 * unless an older one is still pending).
 *
 * A letter is the record `encodeDeadRecord` writes (codec.ts), built here: the event is the stored
 * text as it is (decoded only for its tenantId), error QUEUE_OVERFLOW, no attempts. An entry that is
 * not a JSON event (another tool's XADD into a queue stream) becomes the CORRUPT_DATA letter
 * `corruptLetter` describes, as a read would make it. The undelivered count is the group's lag
 * (Redis 7, O(1)); when Redis cannot tell it (Redis < 7, or deletions after the group's position)
 * it is counted a page at a time, up to cap + limit + one page, only when `count` is set (else the
 * answer says unknown). Returns lettered, of them corrupt, letters trimmed by their bounds, and how
 * many undelivered are still over the cap (-1: unknown).
 */
const OVERFLOW_HELPERS = `
local function overflow_record(g, id, f, deadAt, message)
  local text = nil
  if type(f) == 'table' and #f == 2 and f[1] == 'e' then text = f[2] end
  local reason = 'entry is not a UEE event (expected one field "e")'
  if text ~= nil then
    local ok, ev = pcall(cjson.decode, text)
    if ok and type(ev) == 'table' then
      local t = ev.tenantId
      if type(t) ~= 'string' then t = '' end
      return '{"group":' .. cjson.encode(g) .. ',"originalId":"' .. id .. '","event":' .. text
        .. ',"error":{"code":"QUEUE_OVERFLOW","message":' .. message .. '},"attempts":[],"deadAt":"' .. deadAt .. '"}', t, 0
    end
    reason = 'event field is not JSON'
  end
  local raw
  if text ~= nil then raw = string.sub(text, 1, 4096) else raw = string.sub(cjson.encode(f or cjson.null), 1, 4096) end
  local err = { code = 'CORRUPT_DATA', message = 'stream entry ' .. id .. ': ' .. reason }
  local event = {
    eventId = 'corrupt:' .. id, type = 'BusEntryCorrupt', tenantId = cjson.null,
    payload = { streamId = id, raw = raw, reason = reason }, occurredAt = deadAt,
    correlationId = 'corrupt:' .. id, causationId = cjson.null, hop = 0, source = { kind = 'system', id = 'bus' },
  }
  return cjson.encode({ group = g, originalId = id, event = event, error = err,
    attempts = { { at = deadAt, code = err.code, message = err.message } }, deadAt = deadAt }), '', 1
end
local function overflow(q, cap, limit, count, dead, sizes, prefix, maxPer, maxAll, advisory, deadAt)
  local g = redis.call('XINFO', 'GROUPS', q)[1]
  if not g then return 0, 0, 0, 0 end
  local name = field(g, 'name')
  local undelivered = field(g, 'lag')
  if type(undelivered) ~= 'number' then
    if not count then return 0, 0, 0, -1 end
    undelivered = 0
    local start = after(field(g, 'last-delivered-id'))
    while undelivered <= cap + limit do
      local page = redis.call('XRANGE', q, start, '+', 'COUNT', 1000)
      undelivered = undelivered + #page
      if #page < 1000 then break end
      start = after(page[#page][1])
    end
  end
  local over = undelivered - cap
  if over <= 0 then return 0, 0, 0, 0 end
  local read = redis.call('XREADGROUP', 'GROUP', name, '${OVERFLOW_CONSUMER}', 'COUNT', math.min(over, limit), 'STREAMS', q, '>')
  local entries = {}
  if read then entries = read[1][2] end
  local message = cjson.encode('queue ' .. name .. ' held more than maxQueueLength (' .. cap .. ') entries not yet delivered; its oldest went undelivered')
  local ids, tenants, seen, corrupt = {}, {}, {}, 0
  for k, e in ipairs(entries) do
    local record, t, bad = overflow_record(name, e[1], e[2], deadAt, message)
    corrupt = corrupt + bad
    local id = redis.call('XADD', dead, '*', 'g', name, 't', t, 'd', record)
    redis.call('RPUSH', prefix .. t, id)
    if not seen[t] then
      seen[t] = true
      tenants[#tenants + 1] = t
    end
    ids[k] = e[1]
  end
  for a = 1, #ids, 1000 do redis.call('XACK', q, name, unpack(ids, a, math.min(a + 999, #ids))) end
  if #redis.call('XPENDING', q, name, '-', '+', 1, '${OVERFLOW_CONSUMER}') == 0 then
    redis.call('XGROUP', 'DELCONSUMER', q, name, '${OVERFLOW_CONSUMER}')
  end
  local trimmed = 0
  for _, t in ipairs(tenants) do trimmed = trimmed + bound_tenant(dead, sizes, prefix, t, maxPer) end
  trimmed = trimmed + bound_all(dead, sizes, prefix, maxAll)
  local needed = oldest_needed(q, advisory)
  if needed ~= nil then redis.call('XTRIM', q, 'MINID', needed) end
  return #entries, corrupt, trimmed, over - #entries
end
`;

/**
 * Hand-over from a group to queues. KEYS[1] = stream, KEYS[2] = dead-letter stream, KEYS[3] = the
 * sorted set of dead-letter index lengths, KEYS[4] = the set of advisory groups, KEYS[5..] = queue
 * streams; ARGV[1] = source group, ARGV[2] / ARGV[3] = the lowest and highest entry id, ARGV[4] =
 * the number of entries, ARGV[5] = the queues' cap (BusOptions.maxQueueLength), ARGV[6] = the most
 * entries dead-lettered per queue, ARGV[7] = dead-letter index prefix, ARGV[8] / ARGV[9] = max
 * letters per tenant / in all, ARGV[10] = the time of the letters (ISO), then per entry: id, number
 * of targets k, k indexes into KEYS. Each entry is acked in the source group and, only if it was
 * still pending there, copied into each target queue — one atomic step, so an entry is never acked
 * without being queued, and is queued once (also when named twice). A missing queue fails the whole
 * call before anything changes.
 *
 * Then each target queue is kept within the cap in the same atomic step (`overflow`,
 * {@link OVERFLOW_HELPERS}): nobody, in this process or another, sees it over the cap once this
 * route is in (but for a backlog beyond ARGV[6], or a lag Redis cannot tell: the caller finishes
 * those with {@link OVERFLOW_LUA}). That costs one XLEN per target queue per call, nothing per entry
 * — the same XLEN that checks the queue exists (an EXISTS only for a queue of length 0), its length
 * after the call counted from it:
 * XLEN counts pending and acked-not-yet-trimmed entries too, so it only says when to look; a queue
 * over the cap by it has its group's lag read (XINFO GROUPS, O(1) for a queue's single group) and
 * only a lag over the cap costs more. Returns { how many entries were handed over, then per queue
 * that overflow touched: its KEYS index, entries lettered, of them corrupt, letters trimmed by their
 * bounds, undelivered still over the cap (-1: unknown) }.
 *
 * Which entries are pending, and their fields, are read with one XPENDING and one XRANGE over the
 * ids' range (a dispatcher's batch is a run of the stream), and the entries acked with one XACK —
 * not an XACK and an XRANGE per entry. When the range holds more than the entries plus 64 (a batch
 * of old claimed entries among newer ones), what the range read did not cover is asked for per
 * entry, as before.
 */
export const ROUTE_LUA = `${ID_HELPERS}
${DEAD_INDEX_HELPERS}
${OVERFLOW_HELPERS}
local len = {}
for i = 5, #KEYS do
  local n = redis.call('XLEN', KEYS[i])
  -- XLEN is 0 for a missing key: only then is EXISTS asked (a queue's stream is made with its group).
  if n == 0 and redis.call('EXISTS', KEYS[i]) == 0 then return redis.error_reply('NOQUEUE ' .. KEYS[i]) end
  len[i] = n
end
local limit = tonumber(ARGV[4]) + 64
local pend = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[3], limit)
local exact = #pend < limit
local pending = {}
for _, p in ipairs(pend) do pending[p[1]] = true end
local rows = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[3], 'COUNT', limit)
local whole = #rows < limit
local fields = {}
for _, r in ipairs(rows) do fields[r[1]] = r[2] end
local handed = 0
local acks = {}
local i = 11
while i <= #ARGV do
  local id = ARGV[i]
  local k = tonumber(ARGV[i + 1])
  local still
  if exact then
    still = pending[id] == true
    pending[id] = nil
  else
    still = redis.call('XACK', KEYS[1], ARGV[1], id) == 1
  end
  if still then
    handed = handed + 1
    if exact then acks[#acks + 1] = id end
    if k > 0 then
      local f = fields[id]
      if f == nil and not whole then
        local e = redis.call('XRANGE', KEYS[1], id, id)[1]
        if e then f = e[2] end
      end
      if f then
        for j = 1, k do
          local q = tonumber(ARGV[i + 1 + j])
          redis.call('XADD', KEYS[q], '*', unpack(f))
          len[q] = len[q] + 1
        end
      end
    end
  end
  i = i + 2 + k
end
for a = 1, #acks, 1000 do redis.call('XACK', KEYS[1], ARGV[1], unpack(acks, a, math.min(a + 999, #acks))) end
local out = { handed }
local cap = tonumber(ARGV[5])
for q = 5, #KEYS do
  if len[q] > cap then
    local n, corrupt, trimmed, left = overflow(KEYS[q], cap, tonumber(ARGV[6]), false, KEYS[2], KEYS[3], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]), KEYS[4], ARGV[10])
    if n > 0 or left ~= 0 then
      out[#out + 1] = q
      out[#out + 1] = n
      out[#out + 1] = corrupt
      out[#out + 1] = trimmed
      out[#out + 1] = left
    end
  end
end
return out
`;

/**
 * A queue's overflow on its own (`overflow`, {@link OVERFLOW_HELPERS}), for what {@link ROUTE_LUA}
 * left: a backlog beyond its per-call limit, or a lag Redis cannot tell (counted here). KEYS[1] =
 * queue stream, KEYS[2] = dead-letter stream, KEYS[3] = the sorted set of dead-letter index lengths,
 * KEYS[4] = the set of advisory groups; ARGV = cap, limit, index prefix, max letters per tenant, max
 * in all, the time of the letters (ISO). Returns { lettered, of them corrupt, letters trimmed by
 * their bounds, undelivered still over the cap }; all 0 for a queue that is gone.
 */
export const OVERFLOW_LUA = `${ID_HELPERS}
${DEAD_INDEX_HELPERS}
${OVERFLOW_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return { 0, 0, 0, 0 } end
local n, corrupt, trimmed, left = overflow(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), true, KEYS[2], KEYS[3], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), KEYS[4], ARGV[6])
return { n, corrupt, trimmed, left }
`;

/**
 * Removes idle consumers without pending entries. KEYS[1] = stream; ARGV = group, min idle (ms),
 * consumer to remove regardless of idleness (or ''). Atomic, so a consumer that reads meanwhile
 * keeps its entries. Returns how many were removed.
 */
export const PRUNE_LUA = `
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if tonumber(pending) == 0 and (tonumber(idle) >= tonumber(ARGV[2]) or name == ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed = removed + 1
  end
end
return removed
`;

/**
 * Lease. KEYS[1] = lease key; ARGV = owner, ttl (ms). Taken when free (or expired: the key is gone)
 * or renewed when the owner holds it. Returns 1 when the owner holds it afterwards, else 0.
 */
export const LEASE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

/** Lease release. KEYS[1] = lease key; ARGV = owner. Deletes the key only if the owner holds it. */
export const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Lease bound to a process heartbeat. KEYS[1] = lease key, KEYS[2] = the caller's heartbeat key;
 * ARGV = owner, heartbeat key prefix. The lease key has no TTL: it is the owner's while the owner's
 * heartbeat key lives. Taken when free or held by an owner whose heartbeat has lapsed — and only by a
 * caller whose own heartbeat lives (a process that lapsed must not take work). Returns 1 when the
 * owner holds it afterwards, else 0.
 */
export const LEASE_LIVE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return 1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if cur == false or redis.call('EXISTS', ARGV[2] .. cur) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
`;

/**
 * Process heartbeat. KEYS[1] = heartbeat key; ARGV[1] = TTL (ms; 0 deletes the key). Returns 1 when
 * the key still lived before this call, else 0 (first beat, or the heartbeat had lapsed).
 */
export const HEARTBEAT_LUA = `
local had = redis.call('EXISTS', KEYS[1])
if tonumber(ARGV[1]) <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return had
`;

/**
 * Roster. KEYS[1] = roster key (a sorted set: member -> expiry, Redis server time in ms); ARGV = owner,
 * TTL (ms; 0 removes the owner), heartbeat key prefix. Drops expired members, then returns the members
 * whose heartbeat key lives, in lexical order. Server time: the processes' clocks never decide who
 * counts.
 */
export const ROSTER_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  -- The key lives as long as its longest entry: a member with a shorter TTL never cuts it short.
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[3] .. m) == 1 then out[#out + 1] = m end
end
table.sort(out)
return out
`;

/**
 * Creates a queue and names it in the queue index, in one step. KEYS[1] = queue stream, KEYS[2] = the
 * queue index (a set of queue names); ARGV[1] = group (the queue's name). The stream and its one group
 * are made if missing (an existing group is kept as it is). Returns 1 when the group was created, 0
 * when it existed.
 */
export const ENSURE_QUEUE_LUA = `
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
redis.call('SADD', KEYS[2], ARGV[1])
if ok then return 1 end
local message = type(err) == 'table' and err.err or tostring(err)
if string.sub(message, 1, 9) == 'BUSYGROUP' then return 0 end
return redis.error_reply(message)
`;

/**
 * One page of the queue index. KEYS[1] = the queue index; ARGV[1] = queue stream prefix, ARGV[2] =
 * SSCAN cursor, ARGV[3] = page size. Returns { next cursor, the names on the page whose stream exists }:
 * a name whose stream is gone (removed by a process of an earlier version, which did not keep the
 * index) is dropped from the index.
 */
export const QUEUE_PAGE_LUA = `
local page = redis.call('SSCAN', KEYS[1], ARGV[2], 'COUNT', ARGV[3])
local out = {}
for _, g in ipairs(page[2]) do
  if redis.call('EXISTS', ARGV[1] .. g) == 1 then out[#out + 1] = g else redis.call('SREM', KEYS[1], g) end
end
return { page[1], out }
`;

/** What {@link READ_QUEUES_LUA} answers for a queue read under a lease the consumer does not hold. */
export const FENCED_REPLY = 'uee:not-holder';

/**
 * Reads of many queues for one consumer in one step (one command instead of one XREADGROUP each in a
 * pipeline: with 1,000 tenants' queues read a few entries at a time, the client's per-command cost
 * was the run's). KEYS = queue streams; ARGV = consumer, then per queue its group, count and lease
 * key ('' for none). Answers per queue the new entries it read (an array, maybe empty) or the error
 * message of its own XREADGROUP (a string: e.g. NOGROUP for a queue deleted meanwhile), so one
 * queue's failure fails only its own part; {@link FENCED_REPLY}, nothing read, when the queue's
 * lease key does not name the consumer (see ReadOptions.lease).
 */
export const READ_QUEUES_LUA = `
local out = {}
for i = 1, #KEYS do
  local lease = ARGV[3 * i + 1]
  if lease ~= '' and redis.call('GET', lease) ~= ARGV[1] then
    out[i] = '${FENCED_REPLY}'
  else
    local ok, r = pcall(redis.call, 'XREADGROUP', 'GROUP', ARGV[3 * i - 1], ARGV[1], 'COUNT', ARGV[3 * i], 'STREAMS', KEYS[i], '>')
    if ok then
      if r then out[i] = r[1][2] else out[i] = {} end
    else
      out[i] = type(r) == 'table' and r.err or tostring(r)
    end
  end
end
return out
`;

/**
 * Acks in many queues in one step. KEYS = streams; ARGV = per stream its group, the number of ids,
 * then the ids. Answers per stream the number acked, or its own XACK's error message (a string).
 */
export const ACK_QUEUES_LUA = `
local out = {}
local a = 1
for i = 1, #KEYS do
  local n = tonumber(ARGV[a + 1])
  local ok, r = pcall(redis.call, 'XACK', KEYS[i], ARGV[a], unpack(ARGV, a + 2, a + 1 + n))
  a = a + 2 + n
  if ok then out[i] = r else out[i] = type(r) == 'table' and r.err or tostring(r) end
end
return out
`;
