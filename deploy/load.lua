-- wrk script of `deploy/local-cluster load`: every request is one posting, POST
-- /v1/transactions, a deposit or a withdrawal of 0.01 to 100.00 on one of the accounts given,
-- each with an Idempotency-Key of its own (<run>-<thread>-<n>), as a client that retries safely
-- sends it. Every request sends $BANK_MASTER_KEY as its bearer key.
-- Usage: BANK_MASTER_KEY=... wrk ... -s deploy/load.lua <url> -- <run id> <account> [<account>...]
-- done() prints one line: "LOAD_RESULT key=value ..." (times in microseconds).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  run_id = args[1]
  accounts = {}
  for i = 2, #args do
    accounts[#accounts + 1] = args[i]
  end
  math.randomseed(os.time() * 1000 + thread_number)
  local key = os.getenv("BANK_MASTER_KEY")
  if not key or key == "" then
    error("load.lua: set BANK_MASTER_KEY to the cluster's master key")
  end
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }
  -- wrk calls request() once on the first thread to inspect the script before the run.
  sent = thread_number == 1 and -1 or 0
  status_2xx, status_409, status_503, status_other = 0, 0, 0, 0
end

function request()
  sent = sent + 1
  local cents = math.random(1, 10000)
  local kind = math.random(2) == 1 and "deposit" or "withdrawal"
  local body = string.format(
    '{"account_number": "%s", "amount": %d.%02d, "transaction_type": "%s"}',
    accounts[math.random(#accounts)], math.floor(cents / 100), cents % 100, kind)
  headers["Idempotency-Key"] = string.format("%s-%d-%d", run_id, thread_number, sent)
  return wrk.format("POST", "/v1/transactions", headers, body)
end

function response(status)
  if status >= 200 and status < 300 then
    status_2xx = status_2xx + 1
  elseif status == 409 then
    status_409 = status_409 + 1
  elseif status == 503 then
    status_503 = status_503 + 1
  else
    status_other = status_other + 1
  end
end

function done(summary, latency, requests)
  local total = { status_2xx = 0, status_409 = 0, status_503 = 0, status_other = 0 }
  for _, thread in ipairs(threads) do
    for key in pairs(total) do
      total[key] = total[key] + thread:get(key)
    end
  end
  local e = summary.errors
  io.write(string.format(
    "LOAD_RESULT status_2xx=%d status_409=%d status_503=%d status_other=%d responses=%d"
      .. " duration_us=%d p50_us=%d p99_us=%d errors_connect=%d errors_read=%d"
      .. " errors_write=%d errors_timeout=%d\n",
    total.status_2xx, total.status_409, total.status_503, total.status_other, summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout))
end
