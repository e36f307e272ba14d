"""/metrics on the durable queue: a queued message counts once when its job ends (not per attempt), a dead
letter counts as failed, the queue's gauges are read from Redis at scrape time, and Redis errors are counted."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

import bot.metrics
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


class SlowQueue:
    """Gauges that take longer than a scrape waits (a Redis busy with something else)."""

    async def gauges(self) -> tuple[dict[str, tuple[int, float]], int]:
        await asyncio.sleep(10)
        return {}, 0


def queue_samples(metrics: Metrics) -> list[str]:
    """The names of the queue gauges' samples in the registry."""
    return [
        sample.name
        for family in metrics.registry.collect()
        if family.name.startswith("parley_queue_")
        for sample in family.samples
    ]


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


async def test_gauges_that_cannot_be_read_in_time_are_absent_not_stale(
    make: Make, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    core = make()
    metrics = core.metrics
    assert queue_samples(metrics) == [], "none before the first scrape"
    await core.enqueue(chat_thread(), "E1", payload("waiting"))
    await metrics.refresh(core.queue)
    assert value(metrics, "parley_queue_depth", platform="chat") == 1
    assert sorted(queue_samples(metrics)) == [
        "parley_queue_dead_letters",
        "parley_queue_depth",
        "parley_queue_oldest_seconds",
    ]
    monkeypatch.setattr(bot.metrics, "REFRESH_SECONDS", 0.1)
    with caplog.at_level(logging.WARNING, logger="bot.metrics"):
        await metrics.refresh(SlowQueue())
    assert queue_samples(metrics) == []
    assert "parley_queue_depth{" not in metrics.render().decode()
    [warning] = [record for record in caplog.records if record.name == "bot.metrics"]
    assert warning.levelno == logging.WARNING
    assert "(TimeoutError)" in warning.getMessage(), "the error's type, not an empty str(TimeoutError())"
    await metrics.refresh(core.queue)
    assert value(metrics, "parley_queue_depth", platform="chat") == 1, "back at the next scrape that reads them"
    assert metrics.registry.get_sample_value("parley_queue_dead_letters") == 0


async def test_redis_errors_are_counted_across_a_restart_and_a_scrape_does_not_wait_for_redis(
    fake: FakeOpenAI, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
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
                with caplog.at_level(logging.WARNING, logger="bot.metrics"):
                    await metrics.refresh(core.queue)
                assert loop.time() - started < 5, "a scrape is not held by a Redis that is gone"
                assert any("could not be read (" in record.getMessage() for record in caplog.records)
                assert queue_samples(metrics) == [], "absent while Redis is down, not the last values"
            finally:
                await server.start()
            assert not await asyncio.wait_for(asking, 30), "the command was retried once Redis was back"
            await metrics.refresh(core.queue)
            assert value(metrics, "parley_queue_depth", platform="chat") == 1, "back once Redis is"
            assert metrics.registry.get_sample_value("parley_queue_dead_letters") == 0
            errors = value(metrics, "parley_redis_errors_total")
            assert errors >= 1
            await core.has_history(chat_thread())
            assert value(metrics, "parley_redis_errors_total") == errors, "no errors while Redis answers"
