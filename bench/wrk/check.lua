-- check: POST /api/v1/verifications/<id>/check with the right code, each
-- pending verification once (args: "key id code" file, wrk threads).
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup, response, done = common.setup, common.response, common.done
local rows, i, step
local headers = {["Content-Type"] = "application/json"}

function init(args)
  rows = common.lines(args[1])
  step = tonumber(args[2]) or 1
  i = (tid or 1) - step
end

function request()
  i = i + step
  local row = common.split(rows[(i % #rows) + 1])
  headers["Authorization"] = "Bearer " .. row[1]
  return wrk.format("POST", "/api/v1/verifications/" .. row[2] .. "/check", headers, '{"code":"' .. row[3] .. '"}')
end
