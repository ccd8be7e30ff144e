-- antiscrape: run every storage operation of one request in one call (one round trip).
--
-- KEYS: the keys of the ops, in op order (a DistinctAddAll contributes two per counter: its
--       key and its older bucket's).
-- ARGV[1]: "" to take the time from this server's TIME (every host then agrees), or the
--          caller's clock in seconds (tests drive Redis with a manual clock this way).
-- ARGV[2..]: op records, each an op code followed by its fields:
--   H window limit cost | I ttl amount | G | P value ttl | A value ttl | R value size ttl
--   M member n ttl{n}   (DistinctAddAll: n counters, one member; replies a list)
--   U amount bucket alpha factor leave floor cooldown ttl learn_guarded (0/1)
--                                                        (Pulse: a site-wide series)
--
-- Each op is specified in antiscrape/state/ops.py (and docs/storage-operations.md); the
-- reference is antiscrape/state/memory.py. The arithmetic follows it step for step (same
-- IEEE doubles, same order of operations), and tests/test_storage_conformance.py holds this
-- script to it: identical answers for identical inputs (distinct counts within HyperLogLog's
-- error).
--
-- Stored values (except HyperLogLogs) are strings "<kind><expires_at>|<payload>": the logical
-- expiry is checked here, so a manual clock that jumps days ahead sees keys expire exactly as
-- the memory backend does; the Redis TTL (always set) bounds memory in real time.

if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: TIME then write

local caller_clock = ARGV[1] ~= ""
local now
if caller_clock then
  now = tonumber(ARGV[1])
else
  local t = redis.call("TIME")
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function fmt(x)
  return string.format("%.17g", x)  -- round-trips a double exactly
end

-- Python's float floor division (fmod based), not math.floor(a / b): they differ when a / b
-- rounds up to an integer, and the bucket number must match the memory backend's.
local function floordiv(a, b)
  local mod = math.fmod(a, b)
  local div = (a - mod) / b
  if mod ~= 0 and ((b < 0) ~= (mod < 0)) then div = div - 1.0 end
  local fl = math.floor(div)
  if div - fl > 0.5 then fl = fl + 1.0 end
  return fl
end

local function read(key)
  local v = redis.call("GET", key)
  if not v then return nil end
  local bar = string.find(v, "|", 2, true)
  if not bar then return "x", v end  -- not ours (e.g. a HyperLogLog): present, opaque
  local expires = tonumber(string.sub(v, 2, bar - 1))
  if expires == nil then return "x", v end
  if expires <= now then return nil end
  return string.sub(v, 1, 1), string.sub(v, bar + 1), expires
end

local function write(key, kind, expires, payload)
  local ms = math.ceil((expires - now) * 1000)
  if ms < 1 then ms = 1 end
  redis.call("SET", key, kind .. fmt(expires) .. "|" .. payload, "PX", ms)
end

local function window_reset(prev, cur, elapsed, window, limit, cost)
  local room = limit - cost - cur
  if room >= 0 then
    if prev <= 0 then return 0.0 end
    local need = 1.0 - room / prev
    return math.max(0.0, need * window - elapsed)
  end
  local to_next = window - elapsed
  local room_next = limit - cost
  if room_next < 0 then return math.huge end
  local need = 0.0
  if cur > 0 then need = 1.0 - room_next / cur end
  return to_next + math.max(0.0, need) * window
end

local function hit(key, window, limit, cost)
  local bucket = floordiv(now, window)
  local elapsed = now - bucket * window
  local prev, cur = 0.0, 0.0
  local kind, payload = read(key)
  if kind == "h" then
    local b, p, c = string.match(payload, "^(%S+) (%S+) (%S+)$")
    local gap = bucket - tonumber(b)
    if gap == 0 then
      prev, cur = tonumber(p), tonumber(c)
    elseif gap == 1 then
      prev, cur = tonumber(c), 0.0
    end
  end
  local count = prev * (1.0 - elapsed / window) + cur
  local counted = count + cost <= limit
  if counted then cur = cur + cost end
  local reset = 0.0
  if not counted then reset = window_reset(prev, cur, elapsed, window, limit, cost) end
  write(key, "h", (bucket + 2) * window, fmt(bucket) .. " " .. fmt(prev) .. " " .. fmt(cur))
  return fmt(count) .. " " .. fmt(reset) .. " " .. (counted and "1" or "0")
end

local function incr(key, ttl, amount)
  local kind, payload, expires = read(key)
  local value
  if kind == "i" then
    value = tonumber(payload) + amount
  else
    value = amount
    expires = now + ttl
  end
  write(key, "i", expires, fmt(value))
  return value
end

local function get(key)
  local kind, payload = read(key)
  if kind == "s" then return payload end
  if kind == "i" then return tonumber(payload) end
  return false  -- absent, or another kind of state (a window, a list, a distinct counter)
end

local function recent(key, value, size, ttl)
  local items = {value}
  local kind, payload = read(key)
  if kind == "r" then
    local old = cmsgpack.unpack(payload)
    for i = 1, math.min(#old, size - 1) do items[#items + 1] = old[i] end
  end
  write(key, "r", now + ttl, cmsgpack.pack(items))
  return items
end

-- pulse_step of memory.py, step for step: count, fold complete buckets into the baseline
-- (not the bucket the series began in part of the way through, whose baseline is -2; not
-- while guarded, unless learn_guarded), then enter or leave the guarded state.
local function pulse(key, amount, size, alpha, factor, leave, floor, cooldown, ttl,
                     learn_guarded)
  local bucket = floordiv(now, size)
  local begun = -1.0
  if now > bucket * size then begun = -2.0 end
  local last, cur, prev, base, since, last_over = bucket, 0.0, 0.0, begun, 0.0, 0.0
  local kind, payload = read(key)
  if kind == "u" then
    local f = {}
    for x in string.gmatch(payload, "%S+") do f[#f + 1] = tonumber(x) end
    last, cur, prev, base, since, last_over = f[1], f[2], f[3], f[4], f[5], f[6]
  end
  if bucket > last then
    local gap = bucket - last
    if base == -2.0 then
      base = -1.0
    elseif since == 0.0 or learn_guarded then
      if base < 0 then base = cur else base = base + alpha * (cur - base) end
      if gap > 1 and base > 0 then base = base * (1.0 - alpha) ^ math.min(gap - 1, 100000.0) end
    end
    if gap == 1 then prev = cur else prev = 0.0 end
    cur = 0.0
  end
  cur = cur + amount
  local elapsed = now - bucket * size
  local rate = prev * (1.0 - elapsed / size) + cur
  local known = 0.0
  if base > 0 then known = base end
  local changed = 0
  if rate > math.max(floor, factor * known) then
    if since == 0.0 then
      since = now
      changed = 1
    end
    last_over = now
  elseif since ~= 0.0 and rate > math.max(floor, leave * known) then
    last_over = now
  end
  if since ~= 0.0 and changed == 0 and now - last_over >= cooldown then
    since = 0.0
    changed = -1
  end
  write(key, "u", now + ttl, fmt(bucket) .. " " .. fmt(cur) .. " " .. fmt(prev) .. " " ..
        fmt(base) .. " " .. fmt(since) .. " " .. fmt(last_over))
  return fmt(rate) .. " " .. fmt(known) .. " " .. fmt(since) .. " " .. changed
end

-- HyperLogLogs cannot carry an expiry inside the value. With the server clock the Redis TTL
-- is the truth; with a caller clock a sidecar key "<key>|x" holds the logical expiry.
local function hll_alive(key)
  if not caller_clock then return redis.call("EXISTS", key) == 1 end
  local x = redis.call("GET", key .. "|x")
  if x and tonumber(x) > now then return true end
  if x then redis.call("DEL", key, key .. "|x") end
  return false
end

local function distinct_add(key, member, ttl, older)
  local fresh = not hll_alive(key)
  redis.call("PFADD", key, member)
  if fresh then
    redis.call("PEXPIRE", key, ttl * 1000)
    if caller_clock then redis.call("SET", key .. "|x", fmt(now + ttl), "PX", ttl * 1000) end
  end
  -- a missing key counts as empty, so only the caller clock needs the check
  if older == key or (caller_clock and not hll_alive(older)) then
    return redis.call("PFCOUNT", key)
  end
  return redis.call("PFCOUNT", key, older)
end

local out = {}
local k, a = 1, 2
while a <= #ARGV do
  local code = ARGV[a]
  local key = KEYS[k]
  local r
  if code == "H" then
    r = hit(key, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]))
    a = a + 4
    k = k + 1
  elseif code == "I" then
    r = incr(key, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]))
    a = a + 3
    k = k + 1
  elseif code == "G" then
    r = get(key)
    a = a + 1
    k = k + 1
  elseif code == "P" then
    write(key, "s", now + tonumber(ARGV[a + 2]), ARGV[a + 1])
    r = false
    a = a + 3
    k = k + 1
  elseif code == "A" then
    if read(key) then
      r = 0
    else
      write(key, "s", now + tonumber(ARGV[a + 2]), ARGV[a + 1])
      r = 1
    end
    a = a + 3
    k = k + 1
  elseif code == "M" then
    local n = tonumber(ARGV[a + 2])
    local member = ARGV[a + 1]
    r = {}
    a = a + 3
    for c = 1, n do
      r[c] = distinct_add(KEYS[k], member, tonumber(ARGV[a]), KEYS[k + 1])
      a = a + 1
      k = k + 2
    end
  elseif code == "U" then
    r = pulse(key, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]),
              tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]),
              tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8]), ARGV[a + 9] == "1")
    a = a + 10
    k = k + 1
  elseif code == "R" then
    r = recent(key, ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]))
    a = a + 4
    k = k + 1
  else
    return redis.error_reply("antiscrape: unknown op code " .. tostring(code))
  end
  out[#out + 1] = r
end
return out
