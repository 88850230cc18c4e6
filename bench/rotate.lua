-- wrk: GET PATH with a credential taken in turn from the file CREDS,
-- sent as HEADER (Authorization: Bearer, or X-API-Key).
local creds = {}
for line in io.lines(os.getenv("CREDS")) do creds[#creds + 1] = line end
local path = os.getenv("BENCH_PATH") or "/api/v1/auth/me"
local header = os.getenv("HEADER") or "Authorization"
local i = math.random(#creds)

request = function()
  i = i % #creds + 1
  local v = creds[i]
  if header == "Authorization" then v = "Bearer " .. v end
  return wrk.format("GET", path, { [header] = v })
end
