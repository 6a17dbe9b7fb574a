package redisstore

import (
	"strconv"

	"github.com/redis/go-redis/v9"
)

// commitScript applies commits in order, each atomically, and stops at the
// first whose premises no longer hold. Its arguments are the fence, a JSON
// header of version commitArgsVersion and the blobs the header names by
// their ARGV index: commitArgs writes them, and its comment and
// docs/REDIS.md describe them field by field. It answers a header of any
// other version with an error naming both versions, and changes nothing.
//
// For each commit it checks every premise first: the report is not
// processed yet, each alert is at the version before the new one, each
// group key is bound as expected, each threshold count holds as many
// reports as read. Then it writes everything: the frame's body in the
// zone's history, as "<seq> <body>" under the zone's next sequence number
// (history.go), the alert's JSON (cut out of the body) and the rest. A
// later commit's premises see the earlier commits' writes. An alert
// changed by several commits has its state (JSON, version, indexes, timer,
// group binding) written once, as the last of them left it, and each
// history is trimmed once: under a surge a zone's alerts change many times
// per call.
//
// A redo commit (alerting.Redo: one change read back from the stream) has
// no premises but its seq: a zone already past it skips it (its seq comes
// back as 0), a zone more than one change behind it stops the call with
// "gap", and an alert already at its version or later (loaded from the
// compacted record) keeps its state: the change adds its history entry.
//
// It returns {applied, status, seq, seq, ...}: how many commits it
// applied, "ok", or why the next was not ("dup", "stale" or "gap"), and the
// sequence numbers of the applied commits' alert changes in order; the
// caller joins each with its body into the change's frame
// (alerting.ChangeFrame), the one historyFrame reads back from the history.
var commitScript = redis.NewScript(fencedArgsLua + `
local h = cjson.decode(arg())
if h.v ~= ` + strconv.Itoa(commitArgsVersion) + ` then
  return redis.error_reply('TRUCELINE_ARGS: the commit script reads arguments of version ` +
	strconv.Itoa(commitArgsVersion) + `, not ' .. tostring(h.v))
end
local zones, none = h.zones, {}
local out = {0, 'ok'}

-- An alert changed several times in one call has its state written once,
-- as the last change left it; premises read that state first.
local states, order = {}, {}   -- alert key -> its newest change; keys in first-change order
local groups, group_order = {}, {}   -- group key -> {alert id, ttl}
local histories = {}           -- history key -> true, to trim once
local function version_of(key)
  local st = states[key]
  if st then return st.version end
  return tonumber(redis.call('HGET', key, 'v') or '0')
end
local function bound_to(key)
  local g = groups[key]
  if g then return g[1] end
  return redis.call('GET', key) or ''
end

-- apply_commit writes one commit whose premises hold.
local function apply_commit(c, redo)
  local refs = {}
  for _, a in ipairs(c.alerts or none) do
    local z = zones[a.zone]
    local seq = redis.call('INCR', z.seq)
    local s = string.format('%d', seq)
    redis.call('ZADD', z.history, seq, s .. ' ' .. ARGV[a.body])
    histories[z.history] = true
    -- A change redone onto an alert that has it already (loaded from the
    -- compacted record at a later version) adds only its history entry.
    if not (redo and version_of(a.key) >= a.version) then
      if not states[a.key] then order[#order + 1] = a.key end
      states[a.key] = a
      if a.group then
        if not groups[a.group.key] then group_order[#group_order + 1] = a.group.key end
        groups[a.group.key] = {a.id, a.group.ttl}
      end
      local ids = a.report_ids or none
      for first = 1, #ids, 256 do
        redis.call('RPUSH', a.reports_key, unpack(ids, first, math.min(first + 255, #ids)))
      end
    end
    refs[#refs + 1] = a.zone .. ' ' .. s
    out[#out + 1] = seq
  end
  for _, d in ipairs(c.deliveries or none) do
    if d.op == 'add' then
      if redis.call('HSETNX', h.deliveries, d.key, ARGV[d.job]) == 1 then
        redis.call('ZADD', d.lane, d.score, d.key)
      end
    elseif d.op == 'retry' then
      redis.call('ZADD', d.lane, 'XX', d.score, d.key)
    else
      redis.call('ZREM', d.lane, d.key)
      redis.call('HDEL', h.deliveries, d.key)
    end
  end
  for _, p in ipairs(c.pending or none) do
    if p.clear then
      redis.call('DEL', p.key)
    else
      redis.call('ZADD', p.key, p.score, p.member)
      redis.call('PEXPIRE', p.key, p.ttl)
    end
  end
  local report = c.report
  if report then
    if redo and (c.report_changes or 0) > 1 then
      -- The report's earlier changes precede this one in the zone.
      local zone, seq = c.alerts[1].zone, c.alerts[1].seq
      refs = {}
      for k = c.report_changes - 1, 0, -1 do refs[#refs + 1] = zone .. ' ' .. string.format('%d', seq - k) end
    end
    redis.call('HSET', report.key, 'report', ARGV[report.json], 'received_at', report.received_at,
      'classification', ARGV[report.classification], 'changes', table.concat(refs, ','))
    if report.records then redis.call('HSET', report.key, 'records', ARGV[report.records]) end
    redis.call('ZADD', zones[report.zone].reports, report.observed, report.id)
  end
end

local function apply()
  for n, c in ipairs(h.commits) do
    local redo, alerts = c.redo == true, c.alerts or none
    local skip = false
    if redo then
      for _, a in ipairs(alerts) do
        local current = tonumber(redis.call('GET', zones[a.zone].seq) or '0')
        if current >= a.seq then
          skip = true -- the zone has this change already
        elseif current + 1 ~= a.seq then
          return 'gap'
        end
      end
    else
      if c.report and redis.call('EXISTS', c.report.key) == 1 then
        return 'dup'
      end
      for _, a in ipairs(alerts) do
        if version_of(a.key) + 1 ~= a.version then return 'stale' end
        if a.group and bound_to(a.group.key) ~= a.group.expect then return 'stale' end
      end
      for _, p in ipairs(c.pending or none) do
        if redis.call('ZCARD', p.key) ~= p.expect then return 'stale' end
      end
    end
    if skip then
      for _ in ipairs(alerts) do out[#out + 1] = 0 end
    else
      apply_commit(c, redo)
    end
    out[1] = n
  end
  return 'ok'
end

out[2] = apply()
for _, key in ipairs(order) do
  local a = states[key]
  local z = zones[a.zone]
  redis.call('HSET', a.key, 'v', string.format('%d', a.version), 'json', string.sub(ARGV[a.body], a.alert_at + 1, -2), 'zone', a.zone)
  if a.active then
    redis.call('SADD', z.active, a.id)
  else
    redis.call('SREM', z.active, a.id)
  end
  redis.call('ZADD', z.alerts, a.score, a.id)
  if a.timer ~= 0 then
    redis.call('ZADD', h.timers, a.timer, a.id)
  else
    redis.call('ZREM', h.timers, a.id)
  end
end
for _, key in ipairs(group_order) do
  redis.call('SET', key, groups[key][1], 'PX', groups[key][2])
end
for key in pairs(histories) do
  if redis.call('ZCARD', key) > h.history_limit then
    redis.call('ZREMRANGEBYRANK', key, 0, -h.history_limit - 1)
  end
end
return out
`)

// claimScript leases the due escalation timers: each due alert's timer is
// moved lease into the future, so no other replica claims it meanwhile, and
// it comes due again by itself if the claimer dies.
//
// KEYS: 1 timers zset. ARGV: 1 now ms, 2 limit, 3 lease ms. It returns
// {next, id...}: next is when the earliest timer left comes due (ms; ""
// when there is none), so the escalator can sleep until then.
var claimScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), id)
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
table.insert(due, 1, first[2] or '')
return due
`)

// snapshotScript reads a zone's sequence and its active alerts at that
// sequence in one step, so no change can fall between them.
//
// KEYS: 1 zone seq, 2 zone active set. ARGV: 1-2 the fence, 3 alert key
// prefix. It returns {seq, alert JSON...}.
var snapshotScript = redis.NewScript(fenceLua + `
if fence_tripped(ARGV[1], ARGV[2]) then return redis.error_reply('` + fenceError + `') end
local out = {redis.call('GET', KEYS[1]) or '0'}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local json = redis.call('HGET', ARGV[3] .. id, 'json')
  if json then out[#out + 1] = json end
end
return out
`)

// sinceScript returns the changes of a zone after a sequence number, when the
// history still holds all of them.
//
// KEYS: 1 zone seq, 2 zone history. ARGV: 1-2 the fence, 3 after, 4 most
// changes to return. It returns {seq, member...} (members of the history,
// which ChangesSince turns into frames), or {-1} when the changes cannot
// all be given: the client is ahead of the zone (Redis lost its
// data), the history was trimmed past the point, or more changes were
// missed than the limit.
var sinceScript = redis.NewScript(fenceLua + `
if fence_tripped(ARGV[1], ARGV[2]) then return redis.error_reply('` + fenceError + `') end
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local after = tonumber(ARGV[3])
if after > seq then return {-1} end
if after == seq then return {seq} end
if seq - after > tonumber(ARGV[4]) then return {-1} end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 or tonumber(first[2]) > after + 1 then return {-1} end
local out = {seq}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], seq)) do
  out[#out + 1] = member
end
return out
`)

// seqScript reads a zone's sequence number behind the fence.
//
// KEYS: 1 zone seq. ARGV: 1-2 the fence.
var seqScript = redis.NewScript(fenceLua + `
if fence_tripped(ARGV[1], ARGV[2]) then return redis.error_reply('` + fenceError + `') end
return tonumber(redis.call('GET', KEYS[1]) or '0')
`)

// claimDeliveriesScript leases the due deliveries of a lane like claimScript
// leases timers, and returns each claimed delivery's JSON. A lane member
// whose delivery is gone is dropped.
//
// KEYS: 1 lane zset, 2 deliveries hash. ARGV: 1 now ms, 2 limit, 3 lease ms.
// It returns {next, job...}, next as claimScript's.
var claimDeliveriesScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {''}
for _, key in ipairs(due) do
  local job = redis.call('HGET', KEYS[2], key)
  if job then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), key)
    out[#out + 1] = job
  else
    redis.call('ZREM', KEYS[1], key)
  end
end
out[1] = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ''
return out
`)
