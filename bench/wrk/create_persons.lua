-- Durable creates: POST /api/v1/persons with a distinct name per request (run tag KIM_RUN, wrk
-- thread, counter), so the duplicate check never fires, with the token in KIM_TOKEN.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("KIM_TOKEN"),
  ["Content-Type"] = "application/json",
}
local run = os.getenv("KIM_RUN") or "0"

local threads = 0
function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

local counter = 0
function request()
  counter = counter + 1
  local body = string.format(
    '{"given_names":"Wrk%sT%dN%d","family_name":"Haddad","date_of_birth":"1980-0%d-1%d",' ..
    '"nationalities":["SY"],"languages":["ar","de"],"town":"Rheine",' ..
    '"residence_status":"residence_permit","arrival_date":"2023-09-01"}',
    run, thread_number or 0, counter, 1 + counter % 9, counter % 10)
  return wrk.format("POST", "/api/v1/persons", headers, body)
end
