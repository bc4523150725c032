-- logs_http.lua: wrk script for bench/logs_http.sh. POSTs Fluent Bit batches (JSON arrays) to
-- /logs over keep-alive connections, each connection cycling through the batches listed in a
-- file, one path per line:
--
--   wrk -t1 -c2 -d30s -s bench/logs_http.lua http://127.0.0.1:8990/logs -- batches.txt
--
-- Requests are formatted once per thread, so wrk's own cost stays small. done() prints one
-- machine-readable line:
--   WRK_JSON {"requests":..,"duration_s":..,"err_status":..,...}
-- err_status counts non-2xx responses (503: the training row buffer is full).

local requests = {}
local next_request = 1

function init(args)
  local list = args[1] or os.getenv("BATCHES")
  assert(list, "usage: wrk ... -s logs_http.lua URL -- BATCH_LIST_FILE")
  local headers = {["Content-Type"] = "application/json", ["User-Agent"] = "bench-wrk-logs"}
  for path in io.lines(list) do
    local f = assert(io.open(path, "rb"))
    local body = f:read("*all")
    f:close()
    requests[#requests + 1] = wrk.format("POST", nil, headers, body)
  end
  assert(#requests > 0, "no batches in " .. list)
end

function request()
  local formatted = requests[next_request]
  next_request = next_request % #requests + 1
  return formatted
end

function done(summary, latency)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_s":%.6f,"bytes_read":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"lat_p50_ms":%.3f,"lat_p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
