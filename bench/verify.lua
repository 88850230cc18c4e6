-- wrk: POST /api/v1/auth/mfa/verify with the pairs of bench/mfa.py, each
-- once and in the file's order ("mfa_token code" a line; a token is single
-- use). Past the last pair the requests repeat the first ones, which then
-- fail (401) and count as errors: give enough pairs for the run.
local pairs = {}
for line in io.lines(os.getenv("CREDS")) do
  local token, code = line:match("^(%S+) (%d+)$")
  if token then pairs[#pairs + 1] = { token, code } end
end
local i = 0

request = function()
  i = i % #pairs + 1
  local body = '{"mfa_token":"' .. pairs[i][1] .. '","code":"' .. pairs[i][2] .. '"}'
  return wrk.format("POST", "/api/v1/auth/mfa/verify",
    { ["Content-Type"] = "application/json" }, body)
end
