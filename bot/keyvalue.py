"""A namespaced key-value space in Redis, for state the core keeps on an adapter's behalf.

``Store.namespace(name)`` hands one out; its keys are ``{prefix}:{name}:{key}``. Values are JSON,
optionally with a TTL. The core never reads them: the adapter that owns a namespace decides its keys
and what its values mean.
"""

from __future__ import annotations

import json
import logging
import uuid

from redis.asyncio import Redis

log = logging.getLogger(__name__)


class Namespace:
    """JSON values under ``{prefix}:{name}:``: get, set with a TTL, get refreshing the TTL, delete, claim once."""

    def __init__(self, redis: Redis, prefix: str, name: str) -> None:
        if not name or ":" in name:
            raise ValueError(f"a namespace is one non-empty word without ':', not {name!r}")
        self._redis = redis
        self._prefix = f"{prefix}:{name}:"

    def key(self, key: str) -> str:
        """The Redis key of ``key`` in this namespace."""
        return self._prefix + key

    async def get(self, key: str) -> object | None:
        """The value stored under ``key``, or None (also for a value that is not JSON)."""
        return _decode(self.key(key), await self._redis.get(self.key(key)))

    async def get_refreshing(self, key: str, ttl_seconds: int) -> object | None:
        """Like ``get``, and a value found is kept another ``ttl_seconds`` (one command)."""
        return _decode(self.key(key), await self._redis.getex(self.key(key), ex=ttl_seconds))

    async def set(self, key: str, value: object, ttl_seconds: int | None = None) -> None:
        """Store ``value`` as JSON, kept ``ttl_seconds`` or (None) until deleted."""
        await self._redis.set(self.key(key), json.dumps(value, ensure_ascii=False), ex=ttl_seconds)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there (so of several callers, one alone sees True)."""
        return bool(await self._redis.delete(self.key(key)))

    async def claim(self, key: str, ttl_seconds: int) -> bool:
        """True the first time ``key`` is claimed, until the claim expires after ``ttl_seconds``.

        The claim holds a token of its own, so that one resent after a Redis blip (the first try took
        it, its reply was lost) is still seen as this caller's."""
        token = json.dumps(uuid.uuid4().hex)
        if await self._redis.set(self.key(key), token, nx=True, ex=ttl_seconds):
            return True
        found = await self._redis.get(self.key(key))
        return found is not None and (found.decode() if isinstance(found, bytes) else found) == token


def _decode(key: str, raw: bytes | str | None) -> object | None:
    if raw is None:
        return None
    try:
        value: object = json.loads(raw)
    except ValueError:
        log.debug("%s does not hold JSON (an older format?): read as absent", key)
        return None
    return value
