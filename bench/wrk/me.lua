-- me: GET /api/v1/me with the live keys in rotation (args: keys file).
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup, response, done = common.setup, common.response, common.done
local keys, i

function init(args)
  keys = common.lines(args[1])
  i = (tid or 1) * 7919
end

function request()
  i = i + 1
  return wrk.format("GET", "/api/v1/me", {["Authorization"] = "Bearer " .. keys[(i % #keys) + 1]})
end
