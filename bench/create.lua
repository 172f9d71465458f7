-- wrk script: REBORNPAY payment/create with a unique invoice id per request.
-- Usage: wrk -t2 -c64 -d10s -s bench/create.lua http://127.0.0.1:8080/rebornpay/api/v1/payment/create
local counter = 0
local prefix

function setup(thread)
  thread:set("id", tostring(math.random(1, 1e9)))
end

function init(args)
  prefix = "BENCH-" .. id .. "-" .. tostring(os.time()) .. "-"
end

function request()
  counter = counter + 1
  local body = '{"invoice_id":"' .. prefix .. counter .. '","amount":2500,"currency":"BDT",' ..
    '"customer_name":"Karim Rahman","customer_phone":"+8801711000000","payment_method":"bkash",' ..
    '"metadata":{"order_id":"ORD-42"}}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Api-Key"] = "pk_bench",
    ["X-Api-Secret"] = "sk_bench",
  }, body)
end
