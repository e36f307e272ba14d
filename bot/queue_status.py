"""Reading the durable queue's state (``parley queue status``, ``/metrics``'s gauges) from the registry of its
streams, never a ``SCAN``: a scrape costs the same with 200 keys in Redis as with 200,000.

``{prefix}:queue-streams`` is a set of the queue's stream names (``{prefix}:queue:{platform}:{n}``). A stream
joins it when a message is queued to it (the enqueue script), when a worker of its platform starts
(``Queue.ensure_groups``) and when a dead letter is queued to it again (the retry script); nothing removes one.
Streams written by a parley before the set existed (an upgrade) appear once a worker for their platform starts
or the next message of their platform is queued there; until then neither ``parley queue status`` nor
``/metrics`` shows them. A registered stream that no longer exists (deleted by hand) is left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError


@dataclass(frozen=True, slots=True)
class ShardStatus:
    platform: str
    shard: int
    depth: int
    """Entries not yet answered (waiting or being answered)."""
    oldest_age: float | None
    """Seconds since the oldest of them was queued (None: none)."""
    pending: dict[str, int]
    """Entries taken and not yet acknowledged, per consumer."""


@dataclass(frozen=True, slots=True)
class QueueStatus:
    shards: list[ShardStatus]
    dead: int


def place_of_stream(stream: bytes | str) -> tuple[str, int]:
    """The platform and shard of a stream named ``{prefix}:queue:{platform}:{shard}``."""
    rest, _, shard = _text(stream).rpartition(":")
    return rest.rpartition(":")[2], int(shard)


async def read_status(redis: Redis, registry: str, dead_stream: str, group: str | None) -> QueueStatus:
    """Every stream named in ``registry`` (the set): its depth and oldest age (and, with ``group``, its pending
    entries per consumer); and the dead letters. One ``SMEMBERS`` and one pipeline. ``bot/queue.py`` names the
    keys."""
    now = time.time()
    streams = sorted((place_of_stream(name), _text(name)) for name in await redis.smembers(registry))
    async with redis.pipeline(transaction=False) as pipe:
        for _, stream in streams:
            pipe.exists(stream)
            pipe.xlen(stream)
            pipe.xrange(stream, count=1)
            if group is not None:
                pipe.xpending(stream, group)
        pipe.xlen(dead_stream)
        answers: list[Any] = await pipe.execute(raise_on_error=False)
    each = 3 if group is None else 4
    shards: list[ShardStatus] = []
    for n, ((platform, shard), _) in enumerate(streams):
        exists, depth, oldest = _checked(answers[each * n : each * n + 3])
        summary = answers[each * n + 3 : each * n + each]
        if not exists:
            continue
        age = now - _entry_time(_text(oldest[0][0])) if oldest else None
        shards.append(ShardStatus(platform, shard, int(depth), age, _pending(summary)))
    (dead,) = _checked(answers[-1:])
    return QueueStatus(shards, int(dead))


def by_platform(status: QueueStatus) -> dict[str, tuple[int, float]]:
    """By platform: the entries not yet answered over its shards, and the oldest one's age (0: none)."""
    found: dict[str, tuple[int, float]] = {}
    for shard in status.shards:
        depth, age = found.get(shard.platform, (0, 0.0))
        found[shard.platform] = (depth + shard.depth, max(age, shard.oldest_age or 0.0))
    return found


def _checked(answers: list[Any]) -> list[Any]:
    """A pipeline's answers, the first error among them raised."""
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    return answers


def _pending(summary: list[Any]) -> dict[str, int]:
    """``XPENDING``'s consumers (none asked for, or no group yet: no worker ever ran)."""
    if not summary or isinstance(summary[0], ResponseError):
        return {}
    if isinstance(summary[0], Exception):
        raise summary[0]
    return {_text(found["name"]): int(found["pending"]) for found in summary[0]["consumers"]}


def _entry_time(entry_id: str) -> float:
    return int(entry_id.partition("-")[0]) / 1000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
