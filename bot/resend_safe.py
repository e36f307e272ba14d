"""Redis writes that stay right when a blip makes the client send them again.

The pool's retry (``bot/redis_retry.py``) resends a command whose reply did not come: Redis
restarted, or the reply was late. When the first send did apply, a write that is not idempotent
would apply twice: a turn pushed twice onto a thread, tokens counted twice, a summary fold
trimming twice, an event claimed by its own first try and taken for a redelivery, a lock taken by
the first try and then waited for. ``Once`` and ``ResendSafeLock`` make such writes safe to resend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

ONCE_SECONDS = 300
"""How long the marker of a write that must apply once is kept: longer than any retry of it (at most 120 s)."""

_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
    return 0
end
for _, command in ipairs(cjson.decode(ARGV[2])) do
    redis.call(unpack(command))
end
return 1
"""
"""Run the commands (a JSON list of lists of strings) unless the marker KEYS[1] says they ran: atomic like
MULTI/EXEC, and a resend of the same call does nothing. KEYS[2:] name the keys the commands write."""

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return 1
end
return 0
"""
"""Take a lock, or find it taken with this very token: a resent acquire whose first try took the lock
then holds it, instead of waiting for it to expire."""


class Once:
    """Commands run atomically and at most once per call, however often the client sends the call."""

    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_ONCE)

    async def run(self, marker: str, commands: Sequence[Sequence[object]], keys: Sequence[str]) -> bool:
        """Run ``commands`` unless ``marker`` (a key new to this call) shows they ran; ``keys``: every key
        they write. False when they had run already."""
        encoded = json.dumps([[str(part) for part in command] for command in commands], ensure_ascii=False)
        return bool(await self._script(keys=[marker, *keys], args=[ONCE_SECONDS, encoded]))


class ResendSafeLock(Lock):
    """redis-py's lock (``Redis.lock(..., lock_class=ResendSafeLock)``), whose acquire is safe to resend."""

    async def do_acquire(self, token: str | bytes) -> bool:
        if self.timeout is None:
            return await super().do_acquire(token)
        acquire = self.redis.register_script(_ACQUIRE)
        return bool(await acquire(keys=[self.name], args=[token, int(self.timeout * 1000)]))
