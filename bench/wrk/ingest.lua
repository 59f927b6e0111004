-- Records events: MODE=single posts recordInteraction, MODE=batch posts recordInteractions with
-- BATCH events; every event gets a unique clientEventId "<RUN>-<thread>-<n>" and a product
-- taken in turn from PRODUCTS_FILE; bearer tokens come in turn from TOKENS_FILE.
-- Counts acknowledged responses (200 without GraphQL or per-event errors) and failures; prints
-- one JSON object when done.
local mode = os.getenv("MODE") or "single"
local batch = tonumber(os.getenv("BATCH") or "100")
local run = os.getenv("RUN") or "run"
local tokens, products = {}, {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
for line in io.lines(os.getenv("PRODUCTS_FILE")) do products[#products + 1] = line end
local threads = {}
local SINGLE = 'mutation($p: ID!, $k: String) { recordInteraction(productId: $p, type: VIEW, '
  .. 'clientEventId: $k) { interaction { id } errors { code } } }'
local BATCH = 'mutation($e: [InteractionInput!]!) { recordInteractions(events: $e) '
  .. '{ stored errors { index code } } }'

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  counter = 0
  acknowledged = 0
  failures = 0
end

local function event()
  counter = counter + 1
  return products[(counter % #products) + 1], string.format("%s-%d-%d", run, id, counter)
end

function request()
  local body
  if mode == "single" then
    local product, key = event()
    body = string.format('{"query":"%s","variables":{"p":"%s","k":"%s"}}', SINGLE, product, key)
  else
    local parts = {}
    for i = 1, batch do
      local product, key = event()
      parts[i] = string.format('{"productId":"%s","type":"VIEW","clientEventId":"%s"}', product, key)
    end
    body = string.format('{"query":"%s","variables":{"e":[%s]}}', BATCH, table.concat(parts, ","))
  end
  local headers = { ["Content-Type"] = "application/json" }
  headers["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/graphql", headers, body)
end

function response(status, headers, response_body)
  local refused = string.find(response_body, '"errors": [{', 1, true)
    or string.find(response_body, '"errors":[{', 1, true)
  if status ~= 200 or refused then
    failures = failures + 1
  else
    acknowledged = acknowledged + 1
  end
end

function done(summary, latency, requests)
  local failed, acked = 0, 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    acked = acked + thread:get("acknowledged")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.2f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "errors": %d, "acknowledged": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    failed + errors.connect + errors.read + errors.write + errors.timeout, acked))
end
