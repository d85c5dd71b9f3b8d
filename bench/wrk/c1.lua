-- C1: GET /c1/<id> over the ceiling's small table (args: rows).
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup, response, done = common.setup, common.response, common.done
local rows, i = 1000, 0

function init(args)
  rows = tonumber(args[1]) or rows
  i = (tid or 1) * 7919
end

function request()
  i = i + 1
  return wrk.format("GET", "/c1/" .. ((i % rows) + 1))
end
