-- send / send-hot: POST /api/v1/verifications, keys in rotation (one key for
-- send-hot), a different valid number each time spread over the operators'
-- prefixes and ranges (args: keys file, prefixes file, run salt).
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup, response, done = common.setup, common.response, common.done
local keys, prefixes, i, salt
local headers = {["Content-Type"] = "application/json"}

function init(args)
  keys = common.lines(args[1])
  prefixes = common.lines(args[2])
  salt = tonumber(args[3]) or 0
  i = (tid or 1) * 1000003 + salt * 7
end

function request()
  i = i + 1
  local prefix = prefixes[(i % #prefixes) + 1]
  local tail = (i * 2654435761) % 100000000
  headers["Authorization"] = "Bearer " .. keys[(i % #keys) + 1]
  local body = string.format('{"to":"+62%s%08d"}', prefix, tail)
  return wrk.format("POST", "/api/v1/verifications", headers, body)
end
