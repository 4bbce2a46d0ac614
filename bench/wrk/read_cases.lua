-- Audited reads: GET /api/v1/cases/{id}, round robin over the case ids in the file named by
-- KIM_CASE_IDS (one per line), each wrk thread starting elsewhere, with the token in KIM_TOKEN.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local ids = {}
for line in io.lines(os.getenv("KIM_CASE_IDS")) do
  if line ~= "" then ids[#ids + 1] = line end
end
local headers = { ["Authorization"] = "Bearer " .. os.getenv("KIM_TOKEN") }

local threads = 0
function setup(thread)
  thread:set("first", threads * 7919)
  threads = threads + 1
end

-- Every request text is built once per thread, before the clock starts (wrk calls init() while
-- it sets the threads up): request() then only picks the next one, so wrk's Lua spends as little
-- of the shared CPU per request as it can. nginx is measured with no script at all.
local requests
function init(args)
  requests = {}
  for k = 1, #ids do
    requests[k] = wrk.format("GET", "/api/v1/cases/" .. ids[k], headers)
  end
end

local next_index = nil
function request()
  next_index = (next_index or first or 0) + 1
  return requests[next_index % #requests + 1]
end
