"""Connection pools sized from the config, that wait rather than fail when full: the LLM's and Redis's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from redis.asyncio import BlockingConnectionPool

from bot.config import Config
from bot.llm.base import ChatMessage, ChatRequest
from bot.llm.registry import open_backend
from bot.runtime import open_redis
from tests.support.config import TEST_KEY, make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.slack_harness import until

REQUEST = ChatRequest("fake-model", [ChatMessage("user", "hi")], max_tokens=20)


async def answer(stream: AsyncIterator[object]) -> str:
    return "".join([item async for item in stream if isinstance(item, str)])


async def streams_at_once(fake: FakeOpenAI, config: Config, count: int, expected: int) -> list[str]:
    """Start ``count`` answers while the fake holds them all; see ``expected`` reach it; then let them finish."""
    fake.hold = asyncio.Event()
    for _ in range(count):
        fake.queue(Reply("ok"))
    backend = open_backend("fake", config.backends["fake"], TEST_KEY)
    try:
        calls = [asyncio.create_task(answer(backend.generate(REQUEST))) for _ in range(count)]
        await until(lambda: fake.in_flight == expected, what=f"{expected} answers streaming at once")
        for _ in range(20):  # let any further connection come in, if the pool allowed one
            await asyncio.sleep(0)
        assert fake.in_flight == expected
        fake.hold.set()
        return await asyncio.gather(*calls)
    finally:
        await backend.aclose()


async def test_one_backend_streams_more_than_httpx_default_100_answers_at_once(fake: FakeOpenAI, prefix: str) -> None:
    config = make_config(fake.url, prefix)
    assert config.backends["fake"].max_connections == 2000
    answers = await streams_at_once(fake, config, 150, 150)
    assert answers == ["ok"] * 150
    assert fake.peak_in_flight == 150


async def test_a_full_llm_pool_makes_calls_wait_not_fail(fake: FakeOpenAI, prefix: str) -> None:
    config = make_config(fake.url, prefix, backend={"max_connections": 3})
    answers = await streams_at_once(fake, config, 8, 3)
    assert answers == ["ok"] * 8, "every call was answered once a connection was free"
    assert fake.peak_in_flight == 3


async def test_redis_pool_is_sized_from_the_config_and_waits_when_full(redis_url: str, prefix: str) -> None:
    assert make_config("http://127.0.0.1:1/v1", prefix).redis_max_connections == 500, "the default, for 2,000 streams"
    config = make_config("http://127.0.0.1:1/v1", prefix, redis_url=redis_url, redis_max_connections=2)
    async with open_redis(config) as client:
        pool = client.connection_pool
        assert isinstance(pool, BlockingConnectionPool) and pool.max_connections == 2
        # Ten blocking pops at once on a pool of two: redis-py's default pool would raise MaxConnectionsError.
        popped = await asyncio.gather(*(client.blpop([f"{prefix}:empty:{n}"], timeout=0.05) for n in range(10)))
        assert popped == [None] * 10
