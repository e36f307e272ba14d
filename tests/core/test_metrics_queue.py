"""/metrics on the durable queue: a queued message counts once when its job ends (not per attempt), a dead
letter counts as failed, the queue's gauges are read from Redis at scrape time, and Redis errors are counted."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest_asyncio
from redis.asyncio import Redis

from bot.conversation import Conversation
from bot.jobs import Job, Turn
from bot.metrics import Metrics
from bot.notices import GAVE_UP
from bot.runtime import open_conversation, pooled_redis
from bot.store import Store
from tests.support.chat_jobs import ChatHandler, chat_thread, payload, running, until
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.metric_samples import value
from tests.support.restartable_redis import RestartableRedis

Make = Callable[..., Conversation]
UNLIMITED = {"user_per_minute": 0, "channel_per_minute": 0}


@pytest_asyncio.fixture
async def make(core: Conversation, fake: FakeOpenAI, redis_url: str, redis: Redis, prefix: str) -> AsyncIterator[Make]:
    """The core with ``[queue]`` settings (reclaim_after 0.5 s unless given); ``redis`` cleans the keys up."""
    client = pooled_redis(redis_url, 100)

    def conversation(**queue: object) -> Conversation:
        config = make_config(fake.url, prefix, queue={"reclaim_after": 0.5, **queue}, rate_limits=UNLIMITED)
        return Conversation(config=config, store=Store(client, prefix), backends=core.backends)

    yield conversation
    await client.aclose()


class PickyHandler(ChatHandler):
    """Answers like ``ChatHandler``, but leaves a payload with ``skip`` unanswered (nothing in it for parley)."""

    async def handle(self, job: Job, turn: Turn) -> None:
        if job.payload.get("skip"):
            self.handled.append((job.id, job.attempt))
            return
        await super().handle(job, turn)


def counted(metrics: Metrics, outcome: str) -> float:
    return value(metrics, "parley_messages_total", platform="chat", outcome=outcome)


async def test_queued_messages_count_once_each_when_their_jobs_end(make: Make) -> None:
    core = make()
    handler = PickyHandler()
    first, other = chat_thread("t1"), chat_thread("t2")
    assert await core.enqueue(first, "E1", payload("hello"))
    assert not await core.enqueue(first, "E1", payload("hello")), "a redelivery"
    assert await core.enqueue(first, "E2", payload("/show"))
    assert await core.enqueue(other, "E3", {**payload("not for parley"), "skip": True})
    metrics = core.metrics
    assert counted(metrics, "deduplicated") == 1, "counted where it was enqueued"
    assert counted(metrics, "answered") == 0, "nothing answered yet"
    async with running(core, {"chat": handler}):
        await until(lambda: len(handler.handled) == 3 and counted(metrics, "answered") == 2)
        await until(lambda: counted(metrics, "ignored") == 1)
    assert handler.sink(first).texts[0] == "echo: hello"
    assert value(metrics, "parley_reply_seconds_count", platform="chat", backend="fake") == 1, "the command is not"
    assert value(metrics, "parley_first_token_seconds_count", platform="chat", backend="fake") == 1
    assert counted(metrics, "failed") == 0 and counted(metrics, "deduplicated") == 1


async def test_a_dead_letter_counts_one_failed_message_however_many_attempts_it_took(make: Make) -> None:
    core = make(max_attempts=2)
    handler = ChatHandler()
    poisoned, other = chat_thread("poisoned"), chat_thread("other")
    await core.enqueue(poisoned, "P1", payload("bad", poison=True))
    await core.enqueue(other, "O1", payload("fine"))
    async with running(core, {"chat": handler}):
        await until(lambda: handler.sink(poisoned).texts == [GAVE_UP] and bool(handler.sink(other).texts))
        await until(lambda: counted(core.metrics, "failed") == 1 and counted(core.metrics, "answered") == 1)
    assert [attempt for job_id, attempt in handler.handled if job_id == handler.told[0][0]] == [1, 2]
    assert counted(core.metrics, "failed") == 1, "once, when it was given up"
    await core.metrics.refresh(core.queue)
    assert value(core.metrics, "parley_queue_dead_letters") == 1
    assert value(core.metrics, "parley_queue_depth", platform="chat") == 0


async def test_the_queue_gauges_show_the_depth_and_age_of_waiting_messages(make: Make) -> None:
    core = make()
    metrics = core.metrics
    for n, thread in enumerate([chat_thread("t1"), chat_thread("t1"), chat_thread("t2")]):
        await core.enqueue(thread, f"E{n}", payload(f"message {n}"))
    await asyncio.sleep(0.3)
    await metrics.refresh(core.queue)  # no worker runs: they wait
    assert value(metrics, "parley_queue_depth", platform="chat") == 3
    assert 0.25 <= value(metrics, "parley_queue_oldest_seconds", platform="chat") < 30
    assert value(metrics, "parley_queue_dead_letters") == 0
    text = metrics.render().decode()
    assert 'parley_queue_depth{platform="chat"} 3.0' in text

    handler = ChatHandler()
    async with running(core, {"chat": handler}):
        await until(lambda: counted(metrics, "answered") == 3)
    await metrics.refresh(core.queue)
    assert value(metrics, "parley_queue_depth", platform="chat") == 0
    assert value(metrics, "parley_queue_oldest_seconds", platform="chat") == 0


async def test_redis_errors_are_counted_across_a_restart_and_a_scrape_does_not_wait_for_redis(
    fake: FakeOpenAI, prefix: str, tmp_path: Path
) -> None:
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=server.url)
        async with open_conversation(config, os.environ) as core:
            metrics = core.metrics
            await core.enqueue(chat_thread(), "E1", payload("waiting"))
            await metrics.refresh(core.queue)
            assert value(metrics, "parley_queue_depth", platform="chat") == 1
            assert value(metrics, "parley_redis_errors_total") == 0

            await server.stop()
            try:
                asking = asyncio.create_task(core.has_history(chat_thread()))
                await until(lambda: value(metrics, "parley_redis_errors_total") >= 1)
                loop = asyncio.get_running_loop()
                started = loop.time()
                await metrics.refresh(core.queue)
                assert loop.time() - started < 5, "a scrape is not held by a Redis that is gone"
                assert value(metrics, "parley_queue_depth", platform="chat") == 1, "the last value is kept"
            finally:
                await server.start()
            assert not await asyncio.wait_for(asking, 30), "the command was retried once Redis was back"
            errors = value(metrics, "parley_redis_errors_total")
            assert errors >= 1
            await core.has_history(chat_thread())
            assert value(metrics, "parley_redis_errors_total") == errors, "no errors while Redis answers"
