-- wrk: POST /api/v1/auth/login as the seeded users in turn.
local emails = {}
for line in io.lines(os.getenv("CREDS")) do emails[#emails + 1] = line end
local i = math.random(#emails)

request = function()
  i = i % #emails + 1
  local body = '{"email":"' .. emails[i] .. '","password":"bench-password-1"}'
  return wrk.format("POST", "/api/v1/auth/login",
    { ["Content-Type"] = "application/json" }, body)
end
