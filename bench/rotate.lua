-- wrk: GET PATH with a credential taken in turn from the file CREDS,
-- sent as HEADER (Authorization: Bearer, or X-API-Key), and with
-- ACCEPT_ENCODING set, that Accept-Encoding.
local creds = {}
for line in io.lines(os.getenv("CREDS")) do creds[#creds + 1] = line end
local path = os.getenv("BENCH_PATH") or "/api/v1/auth/me"
local header = os.getenv("HEADER") or "Authorization"
local accept = os.getenv("ACCEPT_ENCODING")
local i = math.random(#creds)

request = function()
  i = i % #creds + 1
  local v = creds[i]
  if header == "Authorization" then v = "Bearer " .. v end
  local headers = { [header] = v }
  if accept then headers["Accept-Encoding"] = accept end
  return wrk.format("GET", path, headers)
end
