"""The conversation's state in Redis: threads, summaries, overrides, usage, event ids, locks.

Keys are built here and in the modules that own a kind of their own (``bot/keyvalue.py``, ``bot/queue.py``,
``bot/desk_store.py``), under a configurable prefix. Keys of one thread carry it in braces, a Redis Cluster
hash tag: they (and the thread's queue keys) share one slot; older keys without the braces are renamed at
start (``migrate_keys``). Every key, its kind and its owner is listed in ``docs/architecture.md`` ("Who owns
which Redis key"); the first word after the prefix is one of ``KINDS`` (or an adapter's namespace).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot.keyvalue import Namespace
from bot.limit_scripts import SHARED_BUCKET, TAKE_REQUEST
from bot.messages import ChatMessage, Role
from bot.resend_safe import Once, ResendSafeLock
from bot.threads import ChannelKey, ThreadKey

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")
KINDS = ("history", "overrides", "event", "lock", "summary", "reset", "usage", "usage-users", "usage-channels",
         "usage-holds", "seen", "threads", "audit", "desk", "desk-answer", "desk-first-text", "feedback",
         "feedback-times", "feedback-channels", "handoff", "rate-user", "rate-channel", "pace", "queue", "queue-dead",
         "queue-streams", "seq", "done", "attempts", "replies", "once")  # fmt: skip
THREAD_KINDS = ("history", "summary", "reset", "lock")
"""The store's keys of one thread: named ``{prefix}:{kind}:{<thread>}``, the thread as a hash tag."""
AUDIT_KEPT = 1000
"""How many settings changes the audit keeps, overall and per channel."""
"""The first word of the store's own keys: no namespace may take one."""
RateScope = Literal["user", "channel"]
"""Which request rate limit: a user's or a channel's."""
PING_SECONDS = 1.5
"""How long a health check waits for Redis's answer at most."""

_HOLD_BUDGET = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local counts = redis.call('HMGET', KEYS[1], 'prompt', 'completion')
local used = tonumber(counts[1] or 0) + tonumber(counts[2] or 0)
local held = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    held = held + tonumber(string.match(member, ':(%d+)$'))
end
if redis.call('ZSCORE', KEYS[2], ARGV[4]) then
    return {1, used, held - tonumber(string.match(ARGV[4], ':(%d+)$'))}
end
if used + held >= tonumber(ARGV[2]) then
    return {0, used, held}
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {1, used, held}
"""
"""Check a channel's daily budget against what it used and what replies in progress may still use,
and hold this reply's share if there is room: one atomic step, so concurrent messages cannot all pass.
A resend of a call that held already (its reply was lost in a Redis blip) finds its hold and passes."""


class Store:
    def __init__(self, redis: Redis, prefix: str = "parley", *, health: Redis | None = None) -> None:
        """``health``: a client for ``ping`` of its own (``bot/redis_retry.py`` ``health_client``)."""
        self.redis = redis
        self.prefix = prefix
        self._health = health
        self._once = Once(redis)

    def _key(self, kind: str, name: object) -> str:
        if kind in THREAD_KINDS:
            return thread_key(self.prefix, kind, name)
        return f"{self.prefix}:{kind}:{name}"

    async def migrate_keys(self) -> int:
        """Rename the thread keys written before they carried a hash tag (``{prefix}:history:{thread}``
        without the braces) to their braced names; idempotent, and a key already there is kept. The count."""
        renamed = 0
        for kind in THREAD_KINDS:
            start = f"{self.prefix}:{kind}:"
            async for raw in self.redis.scan_iter(match=f"{_glob_escape(start)}*", count=1000):
                key = _text(raw)
                name = key[len(start) :]
                if name.startswith("{") and name.endswith("}"):
                    continue
                if await self.redis.renamenx(key, f"{start}{{{name}}}"):  # one written since is newer: kept
                    renamed += 1
        if renamed:
            log.warning("renamed %d thread keys to their hash-tagged names", renamed)
        return renamed

    def namespace(self, name: str) -> Namespace:
        """A key-value space of the caller's own, under ``{prefix}:{name}:`` (``name``: one word, no ':')."""
        if name in KINDS:
            raise ValueError(f"{name!r} names the store's own keys, not a namespace")
        return Namespace(self.redis, self.prefix, name)

    async def ping(self) -> bool:
        """Whether Redis answers within about a second (for health checks; commands' retries are not waited
        for); never raises."""
        try:
            async with asyncio.timeout(PING_SECONDS):
                return bool(await (self._health or self.redis).ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def once(self, commands: Sequence[Sequence[object]], keys: Sequence[str]) -> None:
        """Run ``commands`` atomically, and once even when a Redis blip makes the client send them again
        (writes that are not idempotent: RPUSH, HINCRBY, LTRIM by a count). ``keys``: every key written."""
        await self._once.run(self._key("once", uuid.uuid4().hex), commands, keys)

    # -- accepting events ---------------------------------------------------
    async def claim_event(self, event_id: str, ttl_seconds: int) -> bool:
        """True the first time an event id is seen (until the marker expires).

        The marker holds a token of this claim, so that a claim resent after a Redis blip (the first
        try set it, its reply was lost) is still this claim's, not taken for a redelivery."""
        key, token = self._key("event", event_id), uuid.uuid4().hex
        if await self.redis.set(key, token, nx=True, ex=ttl_seconds):
            return True
        return _text(await self.redis.get(key) or b"") == token

    # -- request rate limits ------------------------------------------------
    async def take_request(
        self, user: str, channel: ChannelKey, *, user_limit: int, channel_limit: int, now: float, window: float,
        member: str,
    ) -> tuple[RateScope | None, float]:  # fmt: skip
        """Count one message in the user's and the channel's windows of ``window`` seconds (a limit of 0 is
        not counted), if both have room. Returns None, or the limit that is full and the seconds until it has
        room; ``member``: a unique name for this message in the windows."""
        candidates: list[tuple[RateScope, str, int]] = [
            ("user", self._key("rate-user", user), user_limit),
            ("channel", self._key("rate-channel", channel), channel_limit),
        ]
        counted = [candidate for candidate in candidates if candidate[2] > 0]
        if not counted:
            return None, 0.0
        keys, limits = [key for _, key, _ in counted], [limit for _, _, limit in counted]
        full, wait_ms = await self.redis.eval(TAKE_REQUEST, len(keys), *keys, repr(now), window, member, *limits)
        if not int(full):
            return None, 0.0
        return counted[int(full) - 1][0], int(wait_ms) / 1000

    # -- write budgets shared by every process ------------------------------------
    async def shared_bucket(
        self, name: str, *, now: float, per_second: float, burst: int, taken: int, pause: float, ttl_seconds: int
    ) -> tuple[float, float]:
        """Take ``taken`` writes from the token bucket ``name`` that every process shares, after a pause of
        ``pause`` seconds if one is given (0: none); the tokens left (below 0: a debt) and the seconds it
        stays paused. ``now``: epoch seconds."""
        key = self._key("pace", name)
        args = (repr(now), repr(per_second), burst, taken, repr(pause), ttl_seconds)
        tokens, paused = await self.redis.eval(SHARED_BUCKET, 1, key, *args)
        return float(tokens), float(paused)

    # -- history --------------------------------------------------------------
    async def append_turn(
        self, thread: ThreadKey, messages: Sequence[ChatMessage], max_messages: int, ttl_seconds: int
    ) -> None:
        """Append one answered turn atomically, cap the thread and refresh its TTL: one round trip."""
        key, seen, threads = (
            self._key("history", thread),
            self._key("seen", "channels"),
            self._key("threads", thread.channel_key),
        )
        now = repr(time.time())
        await self.once(
            [
                ["RPUSH", key, *(_encode(m) for m in messages)],
                ["LTRIM", key, -max_messages, -1],
                ["EXPIRE", key, ttl_seconds],
                ["ZADD", seen, now, str(thread.channel_key)],
                ["ZADD", threads, now, thread.thread],
            ],
            [key, seen, threads],
        )

    async def has_history(self, thread: ThreadKey) -> bool:
        return bool(await self.redis.exists(self._key("history", thread)))

    async def clear_history(self, thread: ThreadKey) -> None:
        await self.redis.delete(self._key("history", thread), self._key("summary", thread))

    async def mark_reset(self, thread: ThreadKey, ttl_seconds: int) -> None:
        """The thread's users reset it: what was written before is not to be read into it again."""
        await self.redis.set(self._key("reset", thread), 1, ex=ttl_seconds)

    async def knows_thread(self, thread: ThreadKey) -> bool:
        """Whether parley remembers the thread, or its users reset it (one round trip)."""
        return bool(await self.redis.exists(self._key("history", thread), self._key("reset", thread)))

    @asynccontextmanager
    async def thread_lock(self, thread: ThreadKey, *, ttl: float = 10.0, wait: float = 300.0) -> AsyncIterator[None]:
        """One turn of a thread at a time, across processes.

        The lock expires ``ttl`` seconds after its holder stops renewing it (a
        crashed process blocks a thread for at most that long). Raises
        ThreadBusy after waiting ``wait`` seconds.
        """
        lock = self.redis.lock(
            self._key("lock", thread), timeout=ttl, sleep=0.05, blocking_timeout=wait, lock_class=ResendSafeLock
        )
        if not await lock.acquire():
            raise ThreadBusy(f"{thread} stayed locked for {wait:.0f}s")
        renewing = asyncio.create_task(_keep_renewing(lock, ttl / 3, thread))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            try:
                await lock.release()
            except LockError:
                log.warning("the lock of %s had expired before the turn ended", thread)
            except (RedisError, OSError) as error:
                log.warning("could not release the lock of %s (it expires by itself): %s", thread, error)

    # -- per-channel overrides ------------------------------------------------
    async def overrides(self, channel: ChannelKey) -> dict[str, Any]:
        raw = await self.redis.hgetall(self._key("overrides", channel))
        return {_text(k): json.loads(v) for k, v in raw.items()}

    async def set_override(self, channel: ChannelKey, key: str, value: Any) -> None:
        await self.redis.hset(self._key("overrides", channel), key, json.dumps(value))

    async def unset_override(self, channel: ChannelKey, key: str) -> bool:
        return bool(await self.redis.hdel(self._key("overrides", channel), key))

    # -- thread summaries ------------------------------------------------------
    async def load_thread(self, thread: ThreadKey, ttl_seconds: int) -> tuple[list[ChatMessage], str]:
        """The thread's stored messages and running summary ("" if none), refreshing both TTLs: one round trip."""
        history, summary = self._key("history", thread), self._key("summary", thread)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(history, 0, -1)
            pipe.getex(summary, ex=ttl_seconds)
            pipe.expire(history, ttl_seconds)
            raw, text, _ = await pipe.execute()
        return [_decode(item) for item in raw], _text(text) if text is not None else ""

    async def fold_summary(self, thread: ThreadKey, folded_messages: int, summary: str, ttl_seconds: int) -> None:
        """Drop the thread's oldest ``folded_messages`` and store the summary that replaces them, atomically.

        Called under the thread's lock, so no turn is appended in between.
        """
        history, kept = self._key("history", thread), self._key("summary", thread)
        await self.once([["LTRIM", history, folded_messages, -1], ["SET", kept, summary, "EX", ttl_seconds]],
                        [history, kept])  # fmt: skip

    # -- daily token usage -----------------------------------------------------
    async def add_usage(
        self, day: str, channel: ChannelKey, user: str, counts: Mapping[str, int], ttl_seconds: int
    ) -> None:
        """Add one reply's counts to the channel's and the user's totals of the day: one round trip."""
        totals, users = self._key("usage", f"{day}:{channel}"), self._key("usage-users", f"{day}:{channel}")
        index = self._key("usage-channels", day)
        commands: list[list[object]] = [["HINCRBY", totals, field, amount] for field, amount in counts.items()]
        commands += [["HINCRBY", users, f"{user}:{field}", counts.get(field, 0)] for field in ("prompt", "completion")]
        commands.append(["SADD", index, str(channel)])
        commands += [["EXPIRE", key, ttl_seconds] for key in (totals, users, index)]
        await self.once(commands, [totals, users, index])

    async def hold_budget(
        self, day: str, channel: ChannelKey, budget: int, hold: str, *, now: float, until: float, ttl_seconds: int
    ) -> tuple[bool, int, int]:
        """Hold ``hold`` (``{id}:{tokens}``, until ``until``) against the day's budget if room is left.

        Returns (held, tokens used, tokens held by other replies in progress); expired holds
        (a process that died mid-reply) are dropped first.
        """
        keys = [self._key("usage", f"{day}:{channel}"), self._key("usage-holds", f"{day}:{channel}")]
        held, used, others = await self.redis.eval(_HOLD_BUDGET, 2, *keys, now, budget, until, hold, ttl_seconds)
        return bool(held), int(used), int(others)

    async def release_budget(self, day: str, channel: ChannelKey, hold: str) -> None:
        await self.redis.zrem(self._key("usage-holds", f"{day}:{channel}"), hold)

    async def channel_usage(self, day: str, channel: ChannelKey) -> tuple[dict[str, int], dict[str, int]]:
        """The channel's totals that day, and its users' (``{user}:prompt`` -> tokens): one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key("usage", f"{day}:{channel}"))
            pipe.hgetall(self._key("usage-users", f"{day}:{channel}"))
            totals, users = await pipe.execute()
        return _counts(totals), _counts(users)

    async def usage_channels(self, day: str) -> list[ChannelKey]:
        """The channels that used tokens that day."""
        members = await self.redis.smembers(self._key("usage-channels", day))
        return sorted((ChannelKey.parse(_text(member)) for member in members), key=str)

    # -- what the web console reads: channels seen, recent threads, the audit, usage by day ---------
    async def seen_channels(self) -> dict[ChannelKey, float]:
        """Every channel with an answered turn or a settings change, and when it last had one (epoch seconds)."""
        key = self._key("seen", "channels")
        found = cast(list[tuple[bytes, float]], await self.redis.zrange(key, 0, -1, withscores=True))
        return {ChannelKey.parse(_text(member)): float(score) for member, score in found}

    async def recent_threads(self, channel: ChannelKey, limit: int = 50) -> list[tuple[ThreadKey, float]]:
        """The channel's threads that still have history, newest first, with their last answered turn."""
        key = self._key("threads", channel)
        found = cast(list[tuple[bytes, float]], await self.redis.zrevrange(key, 0, limit - 1, withscores=True))
        threads = [(ThreadKey(channel.platform, channel.workspace, channel.channel, _text(m)), s) for m, s in found]
        async with self.redis.pipeline(transaction=False) as pipe:
            for thread, _ in threads:
                pipe.exists(self._key("history", thread))
            alive = await pipe.execute()
        return [(thread, float(score)) for (thread, score), there in zip(threads, alive, strict=True) if there]

    async def thread_messages(self, thread: ThreadKey) -> list[ChatMessage]:
        """A thread's stored messages, oldest first, read only (the TTL is left as it is)."""
        return [_decode(item) for item in await self.redis.lrange(self._key("history", thread), 0, -1)]

    async def forget_thread(self, thread: ThreadKey) -> None:
        """What ``/reset`` does, and the thread leaves its channel's list of recent threads."""
        await self.clear_history(thread)
        await self.redis.zrem(self._key("threads", thread.channel_key), thread.thread)

    async def add_audit(self, channel: ChannelKey, entry: str, at: float) -> None:
        """One settings change (JSON) into the overall and the channel's audit: one round trip."""
        keys = [self._key("audit", "all"), self._key("audit", channel)]
        commands: list[list[object]] = [[verb, key, *rest] for key in keys for verb, *rest in
                                        (["LPUSH", entry], ["LTRIM", 0, AUDIT_KEPT - 1])]  # fmt: skip
        seen = self._key("seen", "channels")
        commands.append(["ZADD", seen, repr(at), str(channel)])
        await self.once(commands, [*keys, seen])

    async def audit(self, channel: ChannelKey | None = None, limit: int = 200) -> list[str]:
        """Settings changes (JSON), newest first: the channel's, or every channel's."""
        key = self._key("audit", channel if channel is not None else "all")
        return [_text(raw) for raw in await self.redis.lrange(key, 0, limit - 1)]

    async def usage_by_day(self, days: Sequence[str], channel: ChannelKey) -> list[dict[str, int]]:
        """The channel's totals on each of ``days``: one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self._key("usage", f"{day}:{channel}"))
            found = await pipe.execute()
        return [_counts(totals) for totals in found]


class ThreadBusy(Exception):
    """Another turn of the thread held its lock for too long."""


async def _keep_renewing(lock: Lock, every: float, thread: ThreadKey) -> None:
    """Renew until cancelled; a failed renewal is tried again once, then logged, never raised."""
    failures = 0
    while True:
        await asyncio.sleep(every if failures == 0 else every / 4)
        try:
            await lock.reacquire()
            failures = 0
        except LockError:
            log.error("lost the lock of %s: another turn may now run beside this one", thread)
            return
        except (RedisError, OSError) as error:
            failures += 1
            if failures > 1:
                log.error("cannot renew the lock of %s (%s): it will expire during this turn", thread, error)
                return


def thread_key(prefix: str, kind: str, thread: object) -> str:
    """A key of one thread: the thread in braces, so that all of a thread's keys share a Redis Cluster slot."""
    return f"{prefix}:{kind}:{{{thread}}}"


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _counts(raw: Mapping[bytes | str, bytes | str]) -> dict[str, int]:
    return {_text(key): int(value) for key, value in raw.items()}


def _encode(message: ChatMessage) -> str:
    return json.dumps({"role": message.role, "content": message.content}, ensure_ascii=False)


def _decode(raw: bytes | str) -> ChatMessage:
    data = json.loads(raw)
    role: Role = data["role"] if data.get("role") in ROLES else "user"
    return ChatMessage(role, str(data.get("content", "")))
