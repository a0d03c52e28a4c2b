-- wrk script: every request is one posting, POST /v1/transactions, a deposit or a withdrawal
-- of 0.01 to 100.00 on an account drawn uniformly from lo..hi. Without an id prefix there is
-- no transaction_id and the server makes one; with one, every posting brings its own id,
-- <prefix>-<thread>-<n>, as a client using idempotency keys would.
-- With BENCH_BATCH_SIZE=<size> set, every request is one batch instead, POST
-- /v1/transactions/batch, of <size> such postings (ids <prefix>-<thread>-<n>-<item>); the
-- counts done() prints are of requests, each 2xx <size> postings.
-- Every request sends the key in $BANK_MASTER_KEY (Authorization: Bearer), as every /v1 route
-- needs one.
-- Usage: BANK_MASTER_KEY=... wrk ... -s bench/posting.lua <url> -- <lo> <hi> <description> [<id prefix>]
-- done() prints one line: "BENCH_RESULT key=value ..." (times in microseconds).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  lo, hi, description, id_prefix = tonumber(args[1]), tonumber(args[2]), args[3], args[4]
  math.randomseed(os.time() * 1000 + thread_number)
  wrk.headers["Content-Type"] = "application/json"
  local key = os.getenv("BANK_MASTER_KEY")
  if not key or key == "" then
    error("posting.lua: set BANK_MASTER_KEY to the server's master key")
  end
  wrk.headers["Authorization"] = "Bearer " .. key
  batch_size = tonumber(os.getenv("BENCH_BATCH_SIZE") or "")
  -- wrk calls request() once on the first thread to inspect the script before the run.
  sent = thread_number == 1 and -1 or 0
  status_2xx, status_409, status_other = 0, 0, 0
end

local function posting(id_suffix)
  local cents = math.random(1, 10000)
  local kind = math.random(2) == 1 and "deposit" or "withdrawal"
  local own_id = ""
  if id_prefix then
    own_id = string.format(', "transaction_id": "%s-%d-%s"', id_prefix, thread_number, id_suffix)
  end
  return string.format(
    '{"account_number": "%.0f", "amount": %d.%02d, "transaction_type": "%s", "description": "%s"%s}',
    math.random(lo, hi), math.floor(cents / 100), cents % 100, kind, description, own_id)
end

function request()
  sent = sent + 1
  if not batch_size then
    return wrk.format("POST", "/v1/transactions", nil, posting(tostring(sent)))
  end
  local items = {}
  for i = 1, batch_size do
    items[i] = posting(string.format("%d-%d", sent, i))
  end
  local body = '{"transactions": [' .. table.concat(items, ", ") .. ']}'
  return wrk.format("POST", "/v1/transactions/batch", nil, body)
end

function response(status)
  if status >= 200 and status < 300 then
    status_2xx = status_2xx + 1
  elseif status == 409 then
    status_409 = status_409 + 1
  else
    status_other = status_other + 1
  end
end

function done(summary, latency, requests)
  local total = { sent = 0, status_2xx = 0, status_409 = 0, status_other = 0 }
  for _, thread in ipairs(threads) do
    for key in pairs(total) do
      total[key] = total[key] + thread:get(key)
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT sent=%d status_2xx=%d status_409=%d status_other=%d responses=%d"
      .. " duration_us=%d p50_us=%d p99_us=%d mean_us=%d errors_connect=%d errors_read=%d"
      .. " errors_write=%d errors_timeout=%d\n",
    total.sent, total.status_2xx, total.status_409, total.status_other, summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect, e.read, e.write, e.timeout))
end
