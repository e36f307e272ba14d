"""The measurements: latency, throughput, scale and history, each over one stage (one bot on one platform)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from bench.proctree import RssSampler, cpu_seconds
from bench.slack_side import SlackUser
from bench.stage import Stage
from bench.stats import percentile
from bench.watch import Reply
from bot.messages import ChatMessage
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.fake_slack import TEAM
from tests.support.slack_harness import new_ts


@dataclass
class Figures:
    """What one phase measured on one bot."""

    replies: int
    answered: int
    notices: int
    """Replies that showed one of parley's failure notices instead of the answer."""
    wall_s: float
    replies_per_s: float
    first_p50_ms: float | None
    first_p99_ms: float | None
    complete_p50_ms: float | None
    complete_p99_ms: float | None
    cpu_ms_per_reply: float | None
    calls_per_reply: float | None
    calls_by_method: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Numbers:
    """Question numbers, unique over a whole run (so that every answer's text is unique)."""

    def __init__(self) -> None:
        self._count: Iterator[int] = itertools.count(10)

    def next(self) -> int:
        return next(self._count)


async def measure(
    stage: Stage, numbers: Numbers, threads: list[str | None], *, follow_up: bool, in_flight: int, limit: float
) -> Figures:
    """Start one conversation per entry of ``threads`` (None: a new one), ``in_flight`` at a time."""
    replies: list[Reply] = []
    gate = asyncio.Semaphore(in_flight)

    async def conversation(thread: str | None) -> None:
        async with gate:
            key, _, reply = await stage.converse(numbers.next(), thread, limit=limit)
            replies.append(reply)
            if follow_up and reply.complete is not None:
                _, _, reply = await stage.converse(numbers.next(), key, limit=limit)
                replies.append(reply)

    calls, cpu, started = stage.platform_calls(), cpu_seconds(stage.bot.pid), time.monotonic()
    with RssSampler(stage.bot.pid) as rss:
        await asyncio.gather(*(conversation(thread) for thread in threads))
    wall = time.monotonic() - started
    cpu = cpu_seconds(stage.bot.pid) - cpu
    stage.bot.check_alive()
    answered = [reply for reply in replies if reply.complete is not None]
    by_method = stage.calls_by_method(calls)
    count = len(answered)
    firsts = [r.first_ms for r in answered if r.first_ms is not None]
    completes = [r.complete_ms for r in answered if r.complete_ms is not None]
    return Figures(
        replies=len(threads) * (2 if follow_up else 1),
        answered=count,
        notices=sum(reply.notice is not None for reply in replies),
        wall_s=round(wall, 3),
        replies_per_s=round(count / wall, 2) if wall > 0 else 0.0,
        first_p50_ms=percentile(firsts, 0.5),
        first_p99_ms=percentile(firsts, 0.99),
        complete_p50_ms=percentile(completes, 0.5),
        complete_p99_ms=percentile(completes, 0.99),
        cpu_ms_per_reply=cpu * 1000 / count if count else None,
        calls_per_reply=sum(by_method.values()) / count if count else None,
        calls_by_method={method: n / count for method, n in sorted(by_method.items())} if count else {},
        peak_rss_mib=round(rss.peak, 1),
    )


async def latency(
    stage: Stage, numbers: Numbers, conversations: int, stream: float, in_flight: int, limit: float
) -> Figures:
    stage.model.stream_over(stream)
    return await measure(stage, numbers, [None] * conversations, follow_up=True, in_flight=in_flight, limit=limit)


async def throughput(stage: Stage, numbers: Numbers, level: int, replies: int, limit: float) -> Figures:
    stage.model.stream_over(0.0)
    return await measure(stage, numbers, [None] * replies, follow_up=False, in_flight=level, limit=limit)


async def scale(stage: Stage, numbers: Numbers, conversations: int, stream: float, limit: float) -> Figures:
    stage.model.stream_over(stream)
    try:
        return await measure(
            stage, numbers, [None] * conversations, follow_up=False, in_flight=conversations, limit=limit
        )
    finally:
        stage.model.stream_over(0.0)


async def history(stage: Stage, numbers: Numbers, turns: int, messages: int, limit: float) -> Figures:
    """``messages`` Slack threads that already hold ``turns`` turns each, written through parley's own Store."""
    stage.model.stream_over(0.0)
    threads: list[str | None] = []
    user = stage.user
    assert isinstance(user, SlackUser)
    redis = Redis.from_url(stage.redis_url)
    try:
        store = Store(redis, stage.prefix)
        for _ in range(messages):
            ts, channel = new_ts(), user.new_channel()
            user.adopt(ts, channel)
            chat = [
                message
                for i in range(turns)
                for message in (
                    ChatMessage("user", f"earlier question {i} about the project"),
                    ChatMessage("assistant", f"earlier answer {i}: it is fine"),
                )
            ]
            await store.append_turn(ThreadKey("slack", TEAM, channel, ts), chat, 2 * turns, 86400)
            threads.append(ts)
    finally:
        await redis.aclose()
    return await measure(stage, numbers, threads, follow_up=False, in_flight=1, limit=limit)
