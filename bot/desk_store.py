"""The helpdesk's state in Redis: answers people can vote on, their votes, hand-offs and the desk's daily counts.

Keys, under the store's prefix (the store's other keys are listed in ``bot/store.py``):

- ``{prefix}:desk-answer:{platform}:{message id}``  JSON: the thread, question, answer, sources and settings of an
  answer that carries feedback buttons, for as long as the desk's numbers are kept
- ``{prefix}:feedback:{channel}``  hash ``{platform message id}:{user}`` -> JSON vote (one per person and answer)
- ``{prefix}:feedback-times:{channel}``  sorted set of those fields by the time of the vote
- ``{prefix}:feedback-channels``  set of the channels with votes
- ``{prefix}:handoff:{<thread>}``  a thread handed to a person (JSON: who asked, when), with the thread's TTL;
  the thread in braces, a hash tag, as the store's other keys of one thread
- ``{prefix}:desk:{day}:{channel}``  hash of the desk's counts that UTC day (questions, answered, handoffs, up, down)
- ``{prefix}:desk-first-text:{day}:{channel}``  list of milliseconds to the first text of each answer that day
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from redis.asyncio import Redis

from bot.store import thread_key
from bot.threads import ChannelKey, ThreadKey

FIRST_TEXT_KEPT = 10_000
"""Answers per channel and day whose time to first text is kept for the median."""


class DeskStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, kind: str, name: object) -> str:
        return f"{self._prefix}:{kind}:{name}"

    def _thread_key(self, kind: str, thread: ThreadKey) -> str:
        return thread_key(self._prefix, kind, thread)

    # -- answers and votes ---------------------------------------------------------------
    async def keep_answer(self, platform: str, message_id: str, record: Mapping[str, Any], ttl_seconds: int) -> bool:
        """Keep an answer for the votes on its message: False if one was kept there already (a job answered
        again edits the same message)."""
        key = self._key("desk-answer", f"{platform}:{message_id}")
        return bool(await self._redis.set(key, json.dumps(record, ensure_ascii=False), ex=ttl_seconds, nx=True))

    async def answer(self, platform: str, message_id: str) -> dict[str, Any] | None:
        raw = await self._redis.get(self._key("desk-answer", f"{platform}:{message_id}"))
        return None if raw is None else dict(json.loads(raw))

    async def add_vote(self, channel: ChannelKey, field: str, vote: Mapping[str, Any], at: float, ttl: int) -> bool:
        """Keep one person's vote on one answer, unless they voted on it already: true if it was new."""
        votes, times = self._key("feedback", channel), self._key("feedback-times", channel)
        if not await self._redis.hsetnx(votes, field, json.dumps(vote, ensure_ascii=False)):
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(times, {field: at})
            pipe.sadd(self._key("feedback-channels", "all"), str(channel))
            for key in (votes, times):
                pipe.expire(key, ttl)
            await pipe.execute()
        return True

    async def vote(self, channel: ChannelKey, field: str) -> dict[str, Any] | None:
        raw = await self._redis.hget(self._key("feedback", channel), field)
        return None if raw is None else dict(json.loads(raw))

    async def replace_vote(self, channel: ChannelKey, field: str, vote: Mapping[str, Any]) -> None:
        await self._redis.hset(self._key("feedback", channel), field, json.dumps(vote, ensure_ascii=False))

    async def feedback_channels(self) -> list[ChannelKey]:
        members = await self._redis.smembers(self._key("feedback-channels", "all"))
        return sorted((ChannelKey.parse(_text(member)) for member in members), key=str)

    async def votes_since(self, channel: ChannelKey, since: float) -> list[dict[str, Any]]:
        """The channel's votes from ``since`` (epoch seconds) on, oldest first."""
        fields = cast(list[bytes], await self._redis.zrangebyscore(self._key("feedback-times", channel), since, "+inf"))
        if not fields:
            return []
        found = await self._redis.hmget(self._key("feedback", channel), _texts(fields))
        return [dict(json.loads(raw)) for raw in found if raw is not None]

    # -- hand-offs -------------------------------------------------------------------------
    async def hand_off(self, thread: ThreadKey, record: Mapping[str, Any], ttl_seconds: int) -> bool:
        """Mark the thread handed to a person: true if it was not already."""
        key = self._thread_key("handoff", thread)
        return bool(await self._redis.set(key, json.dumps(record, ensure_ascii=False), nx=True, ex=ttl_seconds))

    async def handed_off(self, thread: ThreadKey) -> bool:
        return bool(await self._redis.exists(self._thread_key("handoff", thread)))

    async def take_back(self, thread: ThreadKey) -> bool:
        """The bot answers in the thread again: true if it had been handed off."""
        return bool(await self._redis.delete(self._thread_key("handoff", thread)))

    # -- the desk's daily counts --------------------------------------------------------------
    async def count(
        self, day: str, channel: ChannelKey, counts: Mapping[str, int], ttl_seconds: int, first_text_ms: int | None
    ) -> None:
        """Add to the day's counts (and one answer's time to first text): one round trip."""
        totals, times = self._key("desk", f"{day}:{channel}"), self._key("desk-first-text", f"{day}:{channel}")
        async with self._redis.pipeline(transaction=True) as pipe:
            for field, amount in counts.items():
                pipe.hincrby(totals, field, amount)
            pipe.expire(totals, ttl_seconds)
            if first_text_ms is not None:
                pipe.rpush(times, first_text_ms)
                pipe.ltrim(times, -FIRST_TEXT_KEPT, -1)
                pipe.expire(times, ttl_seconds)
            await pipe.execute()

    async def day(self, day: str, channel: ChannelKey) -> tuple[dict[str, int], list[int]]:
        """The day's counts and times to first text (ms): one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key("desk", f"{day}:{channel}"))
            pipe.lrange(self._key("desk-first-text", f"{day}:{channel}"), 0, -1)
            totals, times = await pipe.execute()
        return {_text(k): int(v) for k, v in totals.items()}, [int(t) for t in _texts(times)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(values: Sequence[bytes | str]) -> list[str]:
    return [_text(value) for value in values]
