-- 10,000 session keys in a header, cycling; each wrk thread keeps its own counter.
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/", { ["X-Session-Id"] = "user-" .. (counter % 10000) })
end
