"""``parley run`` with its worker, ``parley run PLATFORM --ingress-only`` beside ``parley worker`` on one embedded
Redis, and SIGTERM during a reply: real processes, the test platform "chat" (tests/support/chat_platform.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from redis.asyncio import Redis

from bot.redis_server import RedisServer
from bot.threads import ThreadKey
from tests.support.chat_platform import TOKEN, thread_texts
from tests.support.config import TEST_KEY
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, healthz, parley, sigterm

REPO = str(Path(__file__).resolve().parents[2])
PREFIX = "parley"
THREAD = ThreadKey("chat", "W1", "C1", "t1")


def embedded_env(home: Path, fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    """No REDIS_URL: parley's embedded Redis in PARLEY_DATA_DIR."""
    return {
        "PATH": os.environ["PATH"], "HOME": str(home), "PARLEY_DATA_DIR": str(home / "data"),
        "OPENAI_BASE_URL": fake.url, "OPENAI_API_KEY": TEST_KEY, "PYTHONPATH": REPO, TOKEN: "yes", **extra,
    }  # fmt: skip


async def start_chat(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.chat_platform", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=env["HOME"],
    )  # fmt: skip


@pytest_asyncio.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Redis]:
    """A client of the embedded Redis the processes of a test share (once one of them started it)."""
    client = Redis.from_url(f"unix://{tmp_path / 'data' / 'redis' / 'redis.sock'}?db=0")
    yield client
    await client.aclose()


async def post(port: int, thread: str, event: str, text: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as session:
        body = {"thread": thread, "event": event, "text": text}
        async with session.post(f"http://127.0.0.1:{port}/chat/events", json=body) as response:
            assert response.status == 200
            found = await response.json()
            assert isinstance(found, dict)
            return found


async def wait_for_texts(redis: Redis, expected: list[str]) -> list[str]:
    for _ in range(1200):
        found = await thread_texts(redis, PREFIX, THREAD)
        if found == expected:
            break
        await asyncio.sleep(0.05)
    return found


async def test_parley_run_answers_queued_messages_in_its_own_worker(
    tmp_path: Path, fake: FakeOpenAI, embedded: Redis
) -> None:
    port = free_port()
    env = embedded_env(tmp_path, fake)
    process = await start_chat(env, "run", "chat", "--port", str(port))
    try:
        await healthz(f"http://127.0.0.1:{port}", process)
        assert await post(port, "t1", "E1", "first") == {"queued": True}
        assert await post(port, "t1", "E2", "second") == {"queued": True}
        assert await post(port, "t1", "E1", "first") == {"queued": False}, "a redelivery"
        assert await wait_for_texts(embedded, ["echo: first", "echo: second"]) == ["echo: first", "echo: second"]
        code, out, err = await parley("queue", "status", env=env)
        assert (code, out.splitlines()[0].split(", ")[0]) == (0, "chat shard 0: depth 0"), err
    finally:
        _, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM
    assert_clean_exit(err)


async def test_an_ingress_only_process_and_a_worker_share_the_embedded_redis(
    tmp_path: Path, fake: FakeOpenAI, embedded: Redis
) -> None:
    port = free_port()
    env = embedded_env(tmp_path, fake)
    ingress = await start_chat(env, "run", "chat", "--ingress-only", "--port", str(port))
    worker = None
    try:
        await healthz(f"http://127.0.0.1:{port}", ingress)
        assert await post(port, "t1", "E1", "queued before any worker") == {"queued": True}
        await asyncio.sleep(0.5)
        assert await thread_texts(embedded, PREFIX, THREAD) == [], "the ingress answers nothing itself"
        worker = await start_chat(env, "worker")
        assert await wait_for_texts(embedded, ["echo: queued before any worker"]) == ["echo: queued before any worker"]
    finally:
        logs = [await sigterm(worker)] if worker is not None else []
        logs.append(await sigterm(ingress))
    assert ingress.returncode == 128 + signal.SIGTERM
    for _, err in logs:
        assert_clean_exit(err)


async def test_sigterm_during_a_reply_lets_it_finish(tmp_path: Path, fake: FakeOpenAI, embedded: Redis) -> None:
    fake.queue(Reply("an answer that takes a couple of seconds to write", chunk_size=3, delay=0.1))
    port = free_port()
    env = embedded_env(tmp_path, fake)
    process = await start_chat(env, "run", "chat", "--port", str(port))
    try:
        await healthz(f"http://127.0.0.1:{port}", process)
        await post(port, "t1", "E1", "question")
        for _ in range(600):
            if await thread_texts(embedded, PREFIX, THREAD):
                break
            await asyncio.sleep(0.02)
        texts_then = await thread_texts(embedded, PREFIX, THREAD)
    finally:
        _, err = await sigterm(process)
    assert texts_then != ["an answer that takes a couple of seconds to write"], "the signal came mid-reply"
    assert process.returncode == 128 + signal.SIGTERM
    assert_clean_exit(err)
    # The embedded Redis stopped with its owner (flushing its append-only file): read what it kept.
    server = RedisServer(tmp_path / "data" / "redis")
    client = Redis.from_url(await server.start())
    try:
        assert await thread_texts(client, PREFIX, THREAD) == ["an answer that takes a couple of seconds to write"]
        assert await client.xlen(f"{PREFIX}:queue:chat:0") == 0, "answered, stored and acknowledged"
    finally:
        await client.aclose()
        await server.stop()
