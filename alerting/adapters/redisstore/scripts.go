package redisstore

import "github.com/redis/go-redis/v9"

// commitScript applies commits in order, each atomically, and stops at the
// first whose premises no longer hold. Its arguments (Store.CommitAll
// writes them):
//
//	the fence's epoch key and run_id (fence.go),
//	history limit per zone, timers key, deliveries key, number of commits,
//	then each commit's plan:
//	report key ("" for none), report id, the zone's reports index key,
//	  observed (ms), report JSON, received at, classification JSON, the
//	  records of its changes (a JSON array; "" when they say nothing the
//	  rest does not),
//	redo (1/0), how many changes the report made (redo only),
//	number of alerts, of deliveries, of threshold counts,
//	each alert: id, key, version, frame body, where the alert's JSON starts
//	  in the body, zone, active (1/0), score (ms), seq key, history key,
//	  active key, index key, reports key, group key ("" for none), the
//	  alert the group must be bound to, group TTL (ms), timer (ms; 0
//	  removes it), the seq it must get (redo only), number of report ids,
//	  the report ids,
//	each delivery: op (add, retry or done), lane key, key, job JSON, score,
//	each threshold count: key, expected size, clear (1/0), member, score,
//	  TTL (ms).
//
// For each commit it checks every premise first: the report is not
// processed yet, each alert is at the version before the new one, each
// group key is bound as expected, each threshold count holds as many
// reports as read. Then it writes everything: the frame's body in the
// zone's history, as "<seq> <body>" under the zone's next sequence number
// (history.go), the alert's JSON (cut out of the body) and the rest. A later commit's premises see the
// earlier commits' writes. An alert changed by several commits has its
// state (JSON, version, indexes, timer, group binding) written once, as
// the last of them left it, and each history is trimmed once: under a
// surge a zone's alerts change many times per call.
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
local cap = tonumber(arg())
local timers_key, deliveries_key = arg(), arg()
local ncommits = tonumber(arg())
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
local function apply_commit(report, redo, report_changes, alerts, deliveries, pending)
  local refs = {}
  for _, a in ipairs(alerts) do
    local seq = redis.call('INCR', a.seq_key)
    local s = string.format('%d', seq)
    redis.call('ZADD', a.history_key, seq, s .. ' ' .. a.body)
    histories[a.history_key] = true
    -- A change redone onto an alert that has it already (loaded from the
    -- compacted record at a later version) adds only its history entry.
    if not (redo and version_of(a.key) >= a.version) then
      if not states[a.key] then order[#order + 1] = a.key end
      states[a.key] = a
      if a.group_key ~= '' then
        if not groups[a.group_key] then group_order[#group_order + 1] = a.group_key end
        groups[a.group_key] = {a.id, a.group_ttl}
      end
      for first = 1, #a.report_ids, 256 do
        redis.call('RPUSH', a.reports_key, unpack(a.report_ids, first, math.min(first + 255, #a.report_ids)))
      end
    end
    refs[#refs + 1] = a.zone .. ' ' .. s
    out[#out + 1] = seq
  end
  for _, d in ipairs(deliveries) do
    if d.op == 'add' then
      if redis.call('HSETNX', deliveries_key, d.key, d.json) == 1 then
        redis.call('ZADD', d.lane, d.score, d.key)
      end
    elseif d.op == 'retry' then
      redis.call('ZADD', d.lane, 'XX', d.score, d.key)
    else
      redis.call('ZREM', d.lane, d.key)
      redis.call('HDEL', deliveries_key, d.key)
    end
  end
  for _, p in ipairs(pending) do
    if p.clear then
      redis.call('DEL', p.key)
    else
      redis.call('ZADD', p.key, p.score, p.member)
      redis.call('PEXPIRE', p.key, p.ttl)
    end
  end
  if report.key ~= '' then
    if redo and report_changes > 1 then
      -- The report's earlier changes precede this one in the zone.
      local zone, seq = alerts[1].zone, alerts[1].seq
      refs = {}
      for k = report_changes - 1, 0, -1 do refs[#refs + 1] = zone .. ' ' .. string.format('%d', seq - k) end
    end
    redis.call('HSET', report.key, 'report', report.json, 'received_at', report.received_at,
      'classification', report.classification, 'changes', table.concat(refs, ','))
    if report.records ~= '' then redis.call('HSET', report.key, 'records', report.records) end
    redis.call('ZADD', report.index_key, report.observed, report.id)
  end
end

local function apply()
  for commit = 1, ncommits do
    local report = {key = arg(), id = arg(), index_key = arg(), observed = arg(), json = arg(),
      received_at = arg(), classification = arg(), records = arg()}
    local redo, report_changes = arg() == '1', tonumber(arg())
    local nalerts, ndeliveries, npending = tonumber(arg()), tonumber(arg()), tonumber(arg())
    local alerts = {}
    for n = 1, nalerts do
      local a = {id = arg(), key = arg(), version = tonumber(arg()), body = arg(), alert_at = tonumber(arg()),
        zone = arg(), active = arg() == '1', score = arg(), seq_key = arg(), history_key = arg(),
        active_key = arg(), index_key = arg(), reports_key = arg(), group_key = arg(),
        group_expect = arg(), group_ttl = arg(), timer_at = arg(), seq = tonumber(arg()), report_ids = {}}
      for r = 1, tonumber(arg()) do
        a.report_ids[r] = arg()
      end
      alerts[n] = a
    end
    local deliveries = {}
    for n = 1, ndeliveries do
      deliveries[n] = {op = arg(), lane = arg(), key = arg(), json = arg(), score = arg()}
    end
    local pending = {}
    for n = 1, npending do
      pending[n] = {key = arg(), expect = tonumber(arg()), clear = arg() == '1', member = arg(), score = arg(), ttl = arg()}
    end

    local skip = false
    if redo then
      for _, a in ipairs(alerts) do
        local current = tonumber(redis.call('GET', a.seq_key) or '0')
        if current >= a.seq then
          skip = true -- the zone has this change already
        elseif current + 1 ~= a.seq then
          return 'gap'
        end
      end
    else
      if report.key ~= '' and redis.call('EXISTS', report.key) == 1 then
        return 'dup'
      end
      for _, a in ipairs(alerts) do
        if version_of(a.key) + 1 ~= a.version then return 'stale' end
        if a.group_key ~= '' and bound_to(a.group_key) ~= a.group_expect then return 'stale' end
      end
      for _, p in ipairs(pending) do
        if redis.call('ZCARD', p.key) ~= p.expect then return 'stale' end
      end
    end
    if skip then
      for _, a in ipairs(alerts) do out[#out + 1] = 0 end
      out[1] = commit
    else
      apply_commit(report, redo, report_changes, alerts, deliveries, pending)
      out[1] = commit
    end
  end
  return 'ok'
end

out[2] = apply()
for _, key in ipairs(order) do
  local a = states[key]
  redis.call('HSET', a.key, 'v', string.format('%d', a.version), 'json', string.sub(a.body, a.alert_at, -2), 'zone', a.zone)
  if a.active then
    redis.call('SADD', a.active_key, a.id)
  else
    redis.call('SREM', a.active_key, a.id)
  end
  redis.call('ZADD', a.index_key, a.score, a.id)
  if a.timer_at ~= '0' then
    redis.call('ZADD', timers_key, a.timer_at, a.id)
  else
    redis.call('ZREM', timers_key, a.id)
  end
end
for _, key in ipairs(group_order) do
  redis.call('SET', key, groups[key][1], 'PX', groups[key][2])
end
for key in pairs(histories) do
  if redis.call('ZCARD', key) > cap then
    redis.call('ZREMRANGEBYRANK', key, 0, -cap - 1)
  end
end
return out
`)

// claimScript leases the due escalation timers: each due alert's timer is
// moved lease into the future, so no other replica claims it meanwhile, and
// it comes due again by itself if the claimer dies.
//
// KEYS: 1 timers zset. ARGV: 1 now ms, 2 limit, 3 lease ms.
var claimScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), id)
end
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
var claimDeliveriesScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, key in ipairs(due) do
  local job = redis.call('HGET', KEYS[2], key)
  if job then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), key)
    out[#out + 1] = job
  else
    redis.call('ZREM', KEYS[1], key)
  end
end
return out
`)
