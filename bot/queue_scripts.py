"""The queue's Redis scripts (Lua), each one atomic step of ``bot/queue.py``; the group is ``workers``."""

from __future__ import annotations

ENQUEUE = """
if not redis.call('SET', KEYS[1], ARGV[6], 'NX', 'EX', ARGV[1]) then
    local held = redis.call('GET', KEYS[1])
    local mine = ARGV[6] .. '='
    if held and string.sub(held, 1, #mine) == mine then
        return string.sub(held, #mine + 1)
    end
    return false
end
local seq = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[5])
local id = redis.call('XADD', KEYS[4], '*', 'thread', ARGV[2], 'event', ARGV[3], 'seq', seq, 'payload', ARGV[4],
    'trace', ARGV[7])
redis.call('SADD', KEYS[5], KEYS[4])
redis.call('SET', KEYS[1], ARGV[6] .. '=' .. id, 'KEEPTTL')
return id
"""
"""KEYS: event marker, seq, done, stream, the set of the queue's streams (the stream joins it). ARGV: dedup
seconds, thread, event id, payload, order seconds, this call's token, the message's trace id. The marker keeps the
token and the entry id: the same call resent after a lost reply (the pool's retry, or enqueue's own) finds its own
entry instead of taking itself for a redelivery."""

CLOSE = """
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
if done < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
else
    redis.call('EXPIRE', KEYS[1], ARGV[3])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
if #ARGV > 3 then
    redis.call('XADD', KEYS[6], '*', unpack(ARGV, 4))
end
redis.call('XACK', KEYS[3], 'workers', ARGV[2])
redis.call('XDEL', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('DEL', KEYS[5])
return 1
"""
"""Finish an entry (answered, or dead): the thread's order moves past it, then it leaves the queue.
KEYS: done, seq, stream, attempts, replies[, dead]. ARGV: seq, entry id, order seconds[, the dead letter's fields]."""

RETRY = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then
    return false
end
local seq = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[4], KEYS[3])
return redis.call('XADD', KEYS[3], '*', 'thread', ARGV[2], 'event', ARGV[3], 'seq', seq, 'payload', ARGV[4],
    'trace', ARGV[6])
"""
"""A dead letter back into its thread's stream, last in its thread's order. KEYS: dead, seq, stream, the set of
the queue's streams.
ARGV: dead letter id, thread, event id, payload, order seconds, trace id."""

HEARTBEAT = """
local owned = {}
for i = 2, #ARGV do
    local found = redis.call('XPENDING', KEYS[1], 'workers', ARGV[i], ARGV[i], 1)
    if found[1] and found[1][2] == ARGV[1] then
        redis.call('XCLAIM', KEYS[1], 'workers', ARGV[1], 0, ARGV[i], 'JUSTID')
        owned[#owned + 1] = ARGV[i]
    end
end
return owned
"""
"""Reset the idle time of the entries this consumer still owns (a long reply is never taken over from a live
worker); those another worker took over meanwhile are left alone and not returned. KEYS: stream.
ARGV: consumer, entry ids."""
