-- Shared by the bench's wrk scripts: thread numbering, per-status counts,
-- and a `done` that prints one JSON line ("BENCHJSON {...}") for bench/run.py.
local M = {}
local threads = {}

function M.setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function M.lines(path)
  local rows = {}
  for line in io.lines(path) do
    if line ~= "" then rows[#rows + 1] = line end
  end
  assert(#rows > 0, "no lines in " .. path)
  return rows
end

function M.split(line)
  local fields = {}
  for field in string.gmatch(line, "%S+") do fields[#fields + 1] = field end
  return fields
end

-- Globals of each thread's state, read back in done() with thread:get.
statuses = {}
samples = {}

function M.response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if (status < 200 or status > 299) and #samples < 3 then
    samples[#samples + 1] = key .. " " .. string.sub(body or "", 1, 300)
  end
end

local function encode(value)
  local kind = type(value)
  if kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return "null" end
    return string.format("%.17g", value)
  elseif kind == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif kind == "boolean" then
    return tostring(value)
  elseif kind == "table" then
    local parts = {}
    if #value > 0 then
      for _, item in ipairs(value) do parts[#parts + 1] = encode(item) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, v in pairs(value) do parts[#parts + 1] = encode(tostring(k)) .. ":" .. encode(v) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "null"
end

function M.done(summary, latency, requests)
  local counts, examples = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do counts[status] = (counts[status] or 0) + n end
    for _, sample in ipairs(thread:get("samples") or {}) do
      if #examples < 5 then examples[#examples + 1] = sample end
    end
  end
  local ok, non2xx = 0, 0
  for status, n in pairs(counts) do
    local code = tonumber(status)
    if code >= 200 and code <= 299 then ok = ok + n else non2xx = non2xx + n end
  end
  local e = summary.errors
  local result = {
    requests = summary.requests,
    duration_s = summary.duration / 1e6,
    bytes = summary.bytes,
    rps = summary.requests / (summary.duration / 1e6),
    ok = ok,
    non2xx = non2xx,
    statuses = counts,
    samples = examples,
    socket_errors = {connect = e.connect, read = e.read, write = e.write, timeout = e.timeout},
    status_errors = e.status,
    latency_ms = {
      mean = latency.mean / 1000,
      stdev = latency.stdev / 1000,
      max = latency.max / 1000,
      p50 = latency:percentile(50) / 1000,
      p90 = latency:percentile(90) / 1000,
      p99 = latency:percentile(99) / 1000,
    },
  }
  io.write("BENCHJSON " .. encode(result) .. "\n")
end

return M
