"""Redis going away under load: a restart is ridden out, a burst waits for the pool, Redis gone for good
fails within the retry bound, and the health check says what is true at once.

The core is wired as ``parley`` wires it (``bot/runtime.py`` ``open_conversation``: the pooled, retrying
client and the health client), on a real Redis with its append-only file on that the test restarts.
"""

from __future__ import annotations

import asyncio
import itertools
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
from bot.jobs import QueueUnavailable
from bot.notices import SOMETHING_BROKE
from bot.runtime import open_conversation, open_store
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.chat_jobs import ChatHandler, chat_thread, payload, running, until
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.messages import msg
from tests.support.recording_sink import RecordingSink
from tests.support.restartable_redis import RestartableRedis

UNLIMITED = {"user_per_minute": 0, "channel_per_minute": 0}
"""One test user sends a hundred messages a minute: the rate limits would refuse most of them."""


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
        config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=server.url, redis_max_connections=10)
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


async def test_a_redis_restart_under_the_queue_loses_no_acknowledged_message(
    fake: FakeOpenAI, prefix: str, tmp_path: Path
) -> None:
    """The same load through the durable queue: enqueued as they come (an ingress acknowledges the platform once
    ``enqueue`` returns), answered by a worker; Redis down 2 s in the middle. Every acknowledged message is
    answered once, in its thread's order, with no error after its answer, and leaves the queue."""
    fake.queue(*[Reply(echo, chunk_size=4, delay=0.03) for _ in range(100)])
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=server.url, redis_max_connections=10,
                             queue={"reclaim_after": 3})  # fmt: skip
        async with core_on(config) as core:
            handler = ChatHandler()
            accepted: list[int] = []

            sent: dict[int, tuple[float, float]] = {}
            """When each enqueue began and returned: of two whose times do not overlap, the first is answered first."""

            async def ingress(n: int) -> None:
                began = time.monotonic()
                try:
                    if await core.enqueue(chat_thread(f"t{n % 20}"), f"E{n}", payload(f"message {n}")):
                        accepted.append(n)
                        sent[n] = (began, time.monotonic())
                except QueueUnavailable:
                    pass  # not acknowledged: the platform delivers it again

            async with running(core, {"chat": handler}):
                arriving = []
                for n in range(100):
                    arriving.append(asyncio.create_task(ingress(n)))
                    await asyncio.sleep(0.03)
                    if n == 33:
                        restarting = asyncio.create_task(server.restart(down_for=2.0))
                await asyncio.gather(*arriving, restarting)
                answered = lambda: sum(len(sink.texts) for sink in handler.sinks.values())  # noqa: E731
                await until(lambda: answered() >= len(accepted) and not any(handler.active.values()))
                await asyncio.sleep(0.5)  # anything answered twice would show by now

            assert len(accepted) == 100, "a 2 s restart is waited out: every message was taken"
            for t in range(20):
                texts = handler.sink(chat_thread(f"t{t}")).texts
                assert sorted(texts) == sorted(f"echo: message {n}" for n in accepted if n % 20 == t), f"thread {t}"
                order = [int(text.rpartition(" ")[2]) for text in texts]
                for a, b in itertools.combinations(order, 2):
                    assert not sent[b][1] < sent[a][0], f"thread {t}: {b} was queued before {a} came, answered after"
                history = [m.content for m in await core.admin.history(chat_thread(f"t{t}"))]
                assert history == [line for n in order for line in (f"message {n}", f"echo: message {n}")], (
                    "stored once"
                )
            status = await core.queue.status()
            assert [shard.depth for shard in status.shards] == [0] and status.dead == 0
    assert server.restarts == 1


async def test_an_answer_whose_storing_fails_is_not_followed_by_an_error(
    fake: FakeOpenAI, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis goes for longer than the retry while the answer streams: the user keeps the complete answer and is
    not told that something went wrong after it; the log says the turn was not remembered."""
    fake.queue(Reply("a complete answer, written slowly", chunk_size=3, delay=0.1))
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=server.url, redis_retry_seconds=1)
        async with core_on(config) as core:
            sink = RecordingSink()
            answering = asyncio.create_task(core.receive(msg("tell me slowly"), sink))
            await until(lambda: bool(sink.texts))
            await server.stop()
            await asyncio.wait_for(answering, 30)
            assert sink.texts == ["a complete answer, written slowly"]
            assert "the reply was shown but not remembered" in caplog.text
            await server.start()


async def test_a_queued_answer_whose_storing_fails_stays_queued_and_is_finished_in_the_same_message(
    fake: FakeOpenAI, prefix: str, tmp_path: Path
) -> None:
    """Through the queue, the job is not acknowledged: once Redis is back it is answered again, in the
    message the first attempt posted, and the turn is stored once. No error is shown at any point."""
    answer = "a complete answer, written slowly"
    fake.queue(Reply(answer, chunk_size=3, delay=0.1), Reply(answer))
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=server.url, redis_retry_seconds=1,
                             queue={"reclaim_after": 1})  # fmt: skip
        async with core_on(config) as core:
            handler, thread = ChatHandler(), chat_thread()
            async with running(core, {"chat": handler}):
                assert await core.enqueue(thread, "E1", payload("tell me slowly"))
                await until(lambda: bool(handler.sink(thread).texts))
                await server.stop()
                await until(lambda: not handler.active.get(thread))  # storing gave up
                await asyncio.sleep(1.0)
                await server.start()
                await until(lambda: len(handler.handled) == 2 and not handler.active.get(thread))
                for _ in range(100):
                    status = await core.queue.status()
                    if status.shards[0].depth == 0:
                        break
                    await asyncio.sleep(0.1)
            sink = handler.sink(thread)
            assert sink.texts == [answer]
            assert [write.kind for write in sink.writes].count("post") == 1, "one message: the second attempt edits it"
            assert [attempt for _, attempt in handler.handled] == [1, 2]
            assert status.shards[0].depth == 0 and status.dead == 0
            assert [m.content for m in await core.admin.history(thread)] == ["tell me slowly", answer], "stored once"


async def test_health_is_false_within_a_second_or_two_while_redis_is_gone_and_true_once_it_is_back(
    fake: FakeOpenAI, prefix: str, tmp_path: Path
) -> None:
    async with RestartableRedis(tmp_path / "redis") as server:
        config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=server.url)
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
    config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=redis_url, redis_max_connections=1)
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
        config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=server.url, redis_retry_seconds=2)
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
    config = make_config(fake.url, prefix, rate_limits=UNLIMITED, redis_url=redis_url, redis_max_connections=10)
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
