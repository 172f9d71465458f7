-- wrk script: a QR Money H2H card payment request (validated, created and charged by
-- the sandbox in one request), with a unique referenceId per request.
-- Usage: wrk -t2 -c64 -d10s -s bench/qrmoney.lua http://127.0.0.1:8080/qrmoney/payments/h2h/1001
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
  local body = '{"name":"John Doe","number":"4242424242424242","expiration":"12/40","cvv":"123",' ..
    '"email":"john@example.com","phoneNumber":"13055550100","address":"1 Ocean Drive","city":"Miami",' ..
    '"state":"FL","postalCode":"33101","country":"US","amount":10.50,"unit":"USD",' ..
    '"referenceId":"' .. prefix .. counter .. '"}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-API-Key"] = "qr_bench",
  }, body)
end
