/**
 * Lua scripts of the Redis bus. Each runs atomically on the server, so a batch is one round trip and
 * no other client sees half of it.
 */

/**
 * Publish. KEYS[1] = stream, KEYS[2..] = one de-duplication key per event; ARGV[1] = window (ms),
 * ARGV[2] = max stream length, ARGV[3..] = the encoded events. An event is appended only when its
 * key could be created (SET NX PX), so each eventId is appended exactly once per window, including
 * twice in one batch. Returns the new ids, `false` (nil) for duplicates.
 */
export const PUBLISH_LUA = `
local ids = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then
    ids[i - 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i + 1])
  else
    ids[i - 1] = false
  end
end
return ids
`;

/**
 * Claim stale entries. KEYS[1] = stream; ARGV = group, consumer, min idle (ms), count. Runs XAUTOCLAIM
 * from the start of the PEL until `count` entries are claimed or the PEL is scanned (bounded), and
 * reads each claimed entry's new delivery count with XPENDING in the same script. Entries trimmed
 * from the stream are dropped from the PEL by Redis 7 (third reply element) or come back as nil
 * (Redis 6.2); neither is returned. Returns { entries, counts, deletedCount }.
 */
export const CLAIM_LUA = `
local want = tonumber(ARGV[4])
local cursor = '0-0'
local entries, counts, deleted = {}, {}, 0
for _ = 1, 16 do
  local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', want - #entries)
  cursor = reply[1]
  for _, entry in ipairs(reply[2]) do
    if type(entry) == 'table' then
      entries[#entries + 1] = entry
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
      counts[#counts + 1] = (p[1] and p[1][4]) or 1
    else
      deleted = deleted + 1
    end
  end
  if reply[3] then deleted = deleted + #reply[3] end
  if cursor == '0-0' or #entries >= want then break end
end
return { entries, counts, deleted }
`;

/**
 * Dead-letter. KEYS[1] = stream, KEYS[2] = dead-letter stream; ARGV = group, max dead letters, then
 * (entry id, record) pairs. Each entry is acked and, only if it was still pending, appended to the
 * dead-letter stream: two workers racing on a reclaimed entry record it once. Returns how many were
 * recorded.
 */
export const DEAD_LETTER_LUA = `
local n = 0
for i = 3, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'g', ARGV[1], 'd', ARGV[i + 1])
    n = n + 1
  end
end
return n
`;
