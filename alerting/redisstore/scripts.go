package redisstore

import "github.com/redis/go-redis/v9"

// commitScript applies one alert change atomically (see Store.Commit).
//
// KEYS: 1 alert hash, 2 zone seq, 3 zone history zset, 4 zone active set,
// 5 zone alert index zset, 6 report hash, 7 group key, 8 the alert's report
// id list.
// ARGV: 1 alert id, 2 new version, 3 alert JSON, 4 frame body, 5 zone,
// 6 active "1"/"0", 7 updated-at ms, 8 history cap, 9 report JSON or "",
// 10 expected group binding or "", 11 group TTL ms, 12 bind group "1"/"0",
// 13 received-at (RFC 3339), 14 report id.
//
// It returns {1, seq, frame} on success, {0, "dup"} when the report was
// processed already and {0, "stale"} when the alert's version or the group's
// binding moved since they were read.
var commitScript = redis.NewScript(`
if ARGV[9] ~= '' and redis.call('EXISTS', KEYS[6]) == 1 then
  return {0, 'dup'}
end
if ARGV[12] == '1' then
  local bound = redis.call('GET', KEYS[7]) or ''
  if bound ~= ARGV[10] then return {0, 'stale'} end
end
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if version + 1 ~= tonumber(ARGV[2]) then return {0, 'stale'} end
local seq = redis.call('INCR', KEYS[2])
local frame = '{"type":"alert","zone":"' .. ARGV[5] .. '","seq":' .. string.format('%d', seq) .. ',' .. ARGV[4]
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'json', ARGV[3], 'zone', ARGV[5])
redis.call('ZADD', KEYS[3], seq, frame)
local cap = tonumber(ARGV[8])
if redis.call('ZCARD', KEYS[3]) > cap then
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -cap - 1)
end
if ARGV[6] == '1' then
  redis.call('SADD', KEYS[4], ARGV[1])
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1])
if ARGV[12] == '1' then
  redis.call('SET', KEYS[7], ARGV[1], 'PX', ARGV[11])
end
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[6], 'report', ARGV[9], 'received_at', ARGV[13], 'changes', ARGV[5] .. ' ' .. string.format('%d', seq))
  redis.call('RPUSH', KEYS[8], ARGV[14])
end
return {1, seq, frame}
`)

// snapshotScript reads a zone's sequence and its active alerts at that
// sequence in one step, so no change can fall between them.
//
// KEYS: 1 zone seq, 2 zone active set. ARGV: 1 alert key prefix.
// It returns {seq, alert JSON...}.
var snapshotScript = redis.NewScript(`
local out = {redis.call('GET', KEYS[1]) or '0'}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local json = redis.call('HGET', ARGV[1] .. id, 'json')
  if json then out[#out + 1] = json end
end
return out
`)

// sinceScript returns the changes of a zone after a sequence number, when the
// history still holds all of them.
//
// KEYS: 1 zone seq, 2 zone history. ARGV: 1 after, 2 most changes to return.
// It returns {seq, frame...}, or {-1} when the changes cannot all be given:
// the client is ahead of the zone (Redis lost its data), the history was
// trimmed past the point, or more changes were missed than the limit.
var sinceScript = redis.NewScript(`
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local after = tonumber(ARGV[1])
if after > seq then return {-1} end
if after == seq then return {seq} end
if seq - after > tonumber(ARGV[2]) then return {-1} end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 or tonumber(first[2]) > after + 1 then return {-1} end
local out = {seq}
for _, frame in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], seq)) do
  out[#out + 1] = frame
end
return out
`)
