-- wrk script: REBORNPAY /webhook/test, each request queueing one test.ping notification.
-- Usage: wrk -t2 -c64 -d5s -s bench/ping.lua http://127.0.0.1:18080/rebornpay/api/v1/webhook/test
wrk.method = "POST"
wrk.body = '{"event":"test.ping","data":{"bench":true}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "pk_bench"
wrk.headers["X-Api-Secret"] = "sk_bench"
