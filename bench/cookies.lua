-- Cookie sessions, as browsers send them: 10% of requests are first visits without a cookie (the gateway mints a
-- session and issues its cookie); the rest return with one of the last 10,000 cookies issued, picked at random. Each
-- wrk thread keeps its own jar (run with -t1 for one jar). Until the jar holds a cookie, every request is a first visit.
local jar, size, next_slot = {}, 0, 1
local capacity, first_visits = 10000, 0.10

init = function() math.randomseed(os.time()) end

request = function()
  if size == 0 or math.random() < first_visits then
    return wrk.format("GET", "/")
  end
  return wrk.format("GET", "/", { ["Cookie"] = jar[math.random(size)] })
end

-- Keeps every cookie issued (first visits, and the rare re-issue), oldest replaced first once the jar is full.
response = function(status, headers, body)
  local set = headers["Set-Cookie"] or headers["set-cookie"]
  if set then
    jar[next_slot] = set:match("^[^;]+")
    if size < capacity then size = size + 1 end
    next_slot = next_slot % capacity + 1
  end
end
