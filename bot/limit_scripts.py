"""The Lua scripts of the request rate limits and of the write budgets shared across processes.

Each runs as one atomic step in Redis; ``bot/store.py`` names the keys they work on and calls them.
"""

TAKE_REQUEST = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for index, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[3 + index])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local count = redis.call('ZCARD', key)
    if count >= limit then
        local opens = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
        return {index, math.ceil((tonumber(opens[2]) + window - now) * 1000)}
    end
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, ARGV[1], ARGV[3])
    redis.call('PEXPIRE', key, math.ceil(window * 1000))
end
return {0, 0}
"""
"""Count a message in each sliding window (a key per limit, ARGV[4..] their limits) if every one has room:
one atomic step, so that concurrent messages cannot all pass; else the first full window and the
milliseconds until it has room."""

SHARED_BUCKET = """
local now, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local taken, pause = tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]) or burst, tonumber(state[2]) or now
if now > stamp then
    tokens = math.min(burst, tokens + (now - stamp) * rate)
    stamp = now
end
tokens = tokens - taken
if pause > 0 then
    tokens = math.min(tokens, 0)
    stamp = math.max(stamp, now + pause)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'stamp', string.format('%.6f', stamp))
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {string.format('%.6f', tokens), string.format('%.6f', math.max(0, stamp - now))}
"""
"""A token bucket many processes write through (a hash: ``tokens``, and ``stamp``, when they were counted;
after a pause, when the refill starts again): refill it by the time passed, take ``taken`` writes, then
apply a platform's pause (Retry-After: empty until then; the writes it answered came before it). It
may go below zero: writes a process made before it heard of the others' are a debt that the next
waits pay back. Returns the tokens left and the seconds the bucket stays paused."""
