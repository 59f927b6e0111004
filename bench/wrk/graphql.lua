-- POSTs one GraphQL body (BODY_FILE) with bearer tokens taken in turn from TOKENS_FILE (optional).
-- Counts responses that are not 200 or carry GraphQL errors; prints one JSON object when done.
local body = io.open(os.getenv("BODY_FILE")):read("*a")
local tokens = {}
local tokens_file = os.getenv("TOKENS_FILE")
if tokens_file and tokens_file ~= "" then
  for line in io.lines(tokens_file) do tokens[#tokens + 1] = line end
end
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  counter = id * 7919
  failures = 0
end

function request()
  counter = counter + 1
  local headers = { ["Content-Type"] = "application/json" }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
  end
  return wrk.format("POST", "/graphql", headers, body)
end

function response(status, headers, response_body)
  if status ~= 200 or string.find(response_body, '"errors"', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("failures") end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.2f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    failed + errors.connect + errors.read + errors.write + errors.timeout))
end
