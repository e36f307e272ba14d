"""Redis going away under load: a restart is ridden out, a burst waits for the pool, Redis gone for good
fails within the retry bound, and the health check says what is true at once.

The core is wired as ``parley`` wires it (``bot/runtime.py`` ``open_conversation``: the pooled, retrying
client and the health client), on a real Redis with its append-only file on that the test restarts.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from adapters.config import load_config
from bot.config import Config, ConfigError
from bot.conversation import Conversation
from bot.notices import SOMETHING_BROKE
from bot.runtime import open_conversation, open_store
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.messages import msg
from tests.support.recording_sink import RecordingSink
from tests.support.restartable_redis import RestartableRedis


def echo(body: dict[str, Any]) -> str:
    return f"echo: {body['messages'][-1]['content']}"


def thread(n: int) -> ThreadKey:
    return ThreadKey("test", "W1", "C1", f"t{n}")


@asynccontextmanager
async def core_on(config: Config) -> AsyncIterator[Conversation]:
    async with open_conversation(config, os.environ) as core:
        yield core


async def test_a_redis_restart_during_a_load_of_messages_loses_none_and_breaks_no_answer(
    fake: FakeOpenAI, prefix: str, tmp_path: Path
) -> None:
    """100 messages in 20 threads over ~3 s; Redis (AOF on) is stopped for 2 s in the middle. Every message
    is answered in full, none is followed by an error, and every thread remembers all its turns in order."""
    fake.queue(*[Reply(echo, chunk_size=4, delay=0.03) for _ in range(100)])
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, redis_url=server.url, redis_max_connections=10)
        assert config.redis_retry_seconds == 10, "the default"
        async with core_on(config) as core:
            sinks = [RecordingSink() for _ in range(100)]
            texts = [f"message {n} of thread {n % 20}" for n in range(100)]

            async def load() -> None:
                tasks = []
                for n, (text, sink) in enumerate(zip(texts, sinks, strict=True)):
                    tasks.append(asyncio.create_task(core.receive(msg(text, thread=thread(n % 20)), sink)))
                    await asyncio.sleep(0.03)
                await asyncio.gather(*tasks)

            running = asyncio.create_task(load())
            await asyncio.sleep(1.0)
            await server.restart(down_for=2.0)
            await asyncio.wait_for(running, 60)

            for text, sink in zip(texts, sinks, strict=True):
                assert sink.texts == [f"echo: {text}"], f"{text}: answered once, in full, no error after it"
        reader = Redis.from_url(server.url)
        try:
            store = Store(reader, prefix)
            for t in range(20):
                history = [m.content for m in await store.thread_messages(thread(t))]
                expected = [line for n in range(t, 100, 20) for line in (texts[n], f"echo: {texts[n]}")]
                assert history == expected, f"thread {t}: every turn stored once, in order"
        finally:
            await reader.aclose()
    assert server.restarts == 1


async def test_health_is_false_within_a_second_or_two_while_redis_is_gone_and_true_once_it_is_back(
    fake: FakeOpenAI, prefix: str, tmp_path: Path
) -> None:
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, redis_url=server.url)
        async with core_on(config) as core:
            assert await core.ping()
            await server.stop()
            try:
                started = time.monotonic()
                assert not await core.ping()
                assert time.monotonic() - started < 2.0, "not after the commands' 10 s of retrying"
            finally:
                await server.start()
            assert await core.ping(), "healthy again once Redis answers"


async def test_a_busy_pool_does_not_make_redis_look_down(fake: FakeOpenAI, prefix: str, redis_url: str) -> None:
    """The pool's one connection is held by a blocking command: health is asked on a connection of its own."""
    config = make_config(fake.url, prefix, redis_url=redis_url, redis_max_connections=1)
    async with open_store(config) as store:
        blocked = asyncio.create_task(store.redis.blpop([f"{prefix}:nothing"], timeout=3))
        await asyncio.sleep(0.2)
        assert await store.ping()
        assert not blocked.done()
        blocked.cancel()


async def test_redis_gone_for_good_fails_within_the_retry_bound(fake: FakeOpenAI, prefix: str, tmp_path: Path) -> None:
    """No hang: a command gives up ``redis_retry_seconds`` after Redis went (plus one attempt), and a
    message then gets the apology rather than silence."""
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, redis_url=server.url, redis_retry_seconds=2)
        async with open_store(config) as store, core_on(config) as core:
            await store.has_history(thread(1))  # a pooled connection, open
            await server.stop()
            started = time.monotonic()
            with pytest.raises(RedisConnectionError):
                await store.has_history(thread(1))
            took = time.monotonic() - started
            assert 2.0 <= took < 4.0, f"gave up after {took:.1f} s"

            sink = RecordingSink()
            started = time.monotonic()
            await core.receive(msg("anyone there?"), sink)
            took = time.monotonic() - started
            assert sink.texts == [SOMETHING_BROKE]
            assert 2.0 <= took < 4.0, f"told after {took:.1f} s"
            await server.start()


async def test_a_burst_of_300_messages_at_once_is_all_answered_through_a_pool_of_10(
    fake: FakeOpenAI, prefix: str, redis_url: str, redis: Redis
) -> None:
    """A pool that raised when full lost 135 of 300 (issue 10); this one makes the burst wait its turn."""
    config = make_config(fake.url, prefix, redis_url=redis_url, redis_max_connections=10)
    async with core_on(config) as core:
        sinks = [RecordingSink() for _ in range(300)]
        await asyncio.gather(*(core.receive(msg(f"burst {n}", thread=thread(n)), sinks[n]) for n in range(300)))
    assert [sink.texts for sink in sinks] == [[f"echo: burst {n}"] for n in range(300)]


def test_redis_retry_seconds_comes_from_the_file_or_the_environment_and_says_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text("redis_retry_seconds = 3\n", encoding="utf-8")
    assert load_config(path, {}).redis_retry_seconds == 3
    assert load_config(path, {"PARLEY_REDIS_RETRY_SECONDS": "0.5"}).redis_retry_seconds == 0.5
    assert load_config(None, {}).redis_retry_seconds == 10
    for bad, problem in [("500", "less than or equal to 120 (got 500)"), ("-1", "greater than or equal to 0"),
                         ('"soon"', "a valid number")]:  # fmt: skip
        path.write_text(f"redis_retry_seconds = {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError) as error:
            load_config(path, {})
        assert f"redis_retry_seconds: Input should be {problem}" in str(error.value)
