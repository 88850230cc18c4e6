-- wrk: METHOD (GET) PATH with a credential taken in turn from the file
-- CREDS, sent as HEADER (Authorization: Bearer, or X-API-Key), and with
-- ACCEPT_ENCODING set, that Accept-Encoding; with BODY set, that JSON
-- body, where every "{n}" becomes a name no other request of any run used.
local creds = {}
for line in io.lines(os.getenv("CREDS")) do creds[#creds + 1] = line end
local path = os.getenv("BENCH_PATH") or "/api/v1/auth/me"
local header = os.getenv("HEADER") or "Authorization"
local accept = os.getenv("ACCEPT_ENCODING")
local method = os.getenv("METHOD") or "GET"
local body = os.getenv("BODY")
local i = math.random(#creds)
local n = 0
local run = ""
local f = io.open("/dev/urandom", "rb")
for c in f:read(6):gmatch(".") do run = run .. string.format("%02x", c:byte()) end
f:close()

request = function()
  i = i % #creds + 1
  local v = creds[i]
  if header == "Authorization" then v = "Bearer " .. v end
  local headers = { [header] = v }
  if accept then headers["Accept-Encoding"] = accept end
  if body then
    n = n + 1
    headers["Content-Type"] = "application/json"
    return wrk.format(method, path, headers, (body:gsub("{n}", run .. "-" .. n)))
  end
  return wrk.format(method, path, headers)
end
