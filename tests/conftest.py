"""Shared fixtures: a real throwaway Redis, a loopback fake LLM, and the core wired to both."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from bot.config import Config
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.redis_server import RedisServer
from bot.store import Store
from tests.support.config import TEST_KEY, TEST_KEY_ENV, make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.net import free_port
from tests.support.recording_sink import RecordingSink

REDIS_TARGETS = ["throwaway"] + (["external"] if os.environ.get("PARLEY_TEST_REDIS_URL") else [])
OUTSIDE_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "REDIS_URL")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The developer's own keys, Redis and PARLEY_* settings never reach a test."""
    for name in list(os.environ):
        if name in OUTSIDE_ENV or (name.startswith("PARLEY_") and name != "PARLEY_TEST_REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv(TEST_KEY_ENV, TEST_KEY)
    yield


@pytest_asyncio.fixture(scope="session", params=REDIS_TARGETS)
async def redis_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A real Redis: one started here on loopback; also PARLEY_TEST_REDIS_URL's when set."""
    if request.param == "external":
        yield os.environ["PARLEY_TEST_REDIS_URL"]
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"), port=free_port(), persistent=False)
    url = await server.start()
    yield url
    await server.stop()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest_asyncio.fixture
async def redis(redis_url: str, prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    async for key in client.scan_iter(f"{prefix}:*"):
        await client.delete(key)
    await client.aclose()


@pytest_asyncio.fixture
async def store(redis: Redis, prefix: str) -> Store:
    return Store(redis, prefix)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix)


@pytest_asyncio.fixture
async def core(config: Config, store: Store) -> AsyncIterator[Conversation]:
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends)
    for backend in backends.values():
        await backend.aclose()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()
