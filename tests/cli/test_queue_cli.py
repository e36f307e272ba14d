"""``parley queue status|dead|retry`` and ``parley worker`` as real processes, on a real Redis."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from redis.asyncio import Redis

from bot.config import QueueConfig
from bot.queue import Queue
from bot.threads import ThreadKey
from tests.support.chat_jobs import payload
from tests.support.chat_platform import TOKEN, thread_texts, thread_writes
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, env, finish, healthz, parley, sigterm

__all__ = ["env"]

REPO = str(Path(__file__).resolve().parents[2])


def thread(name: str) -> ThreadKey:
    return ThreadKey("chat", "W1", "C1", name)


@pytest_asyncio.fixture
async def queue(redis: Redis, prefix: str) -> AsyncIterator[Queue]:
    yield Queue(redis, prefix, QueueConfig(), 3600)


UNLIMITED = {"PARLEY_RATE_LIMITS__USER_PER_MINUTE": "0", "PARLEY_RATE_LIMITS__CHANNEL_PER_MINUTE": "0"}
"""One test user sends hundreds of messages: the rate limits would refuse most of them."""


async def start_worker(env: dict[str, str], *args: str, **extra: str) -> asyncio.subprocess.Process:
    """``parley worker`` with the test platform "chat" added (tests/support/chat_platform.py)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.chat_platform", "worker", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**env, "PYTHONPATH": REPO, TOKEN: "yes", **UNLIMITED, **extra}, cwd=env["HOME"],
    )  # fmt: skip


async def test_queue_status_shows_depth_age_pending_and_dead_letters(env: dict[str, str], queue: Queue) -> None:
    await queue.enqueue(thread("t1"), "E1", payload("one"))
    await queue.enqueue(thread("t2"), "E2", payload("two"))
    await queue.ensure_groups({"chat"})
    await queue.take("ghost", 1, 0.1, {"chat"})
    code, out, err = await parley("queue", "status", env=env)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("chat shard 0: depth 2, oldest ")
    assert lines[0].endswith(", pending ghost: 1")
    assert lines[1] == "dead letters: 0"


async def test_queue_dead_lists_dead_letters_and_retry_queues_one_again(env: dict[str, str], queue: Queue) -> None:
    await queue.enqueue(thread("t1"), "E1", payload("poison"))
    await queue.ensure_groups({"chat"})
    [job] = await queue.take("w1", 1, 0.1, {"chat"})
    await queue.dead_letter(job, "RuntimeError: poison message")

    code, out, err = await parley("queue", "dead", env=env)
    assert code == 0, err
    [line] = out.splitlines()
    dead_id = line.split()[0]
    assert line.startswith(f"{dead_id}  chat:W1/C1#t1  attempts 1  RuntimeError: poison message  ")
    assert line.endswith(" ago")
    code, out, err = await parley("queue", "status", env=env)
    assert out.splitlines()[-1] == "dead letters: 1"

    code, out, err = await parley("queue", "retry", dead_id, env=env)
    assert code == 0, err
    assert out.startswith(f"queued {dead_id} again as ")
    code, out, err = await parley("queue", "retry", dead_id, env=env)
    assert code == 1
    assert f"{dead_id} is not a dead letter (parley queue dead lists them)" in err
    code, out, err = await parley("queue", "dead", env=env)
    assert (code, out, err.strip()) == (0, "", "no dead letters")
    [again] = await queue.take("w1", 1, 0.1, {"chat"})
    assert (again.payload["text"], again.attempt) == ("poison", 1)


async def test_three_worker_processes_answer_each_message_once_in_order(
    env: dict[str, str], queue: Queue, redis: Redis, prefix: str, fake: FakeOpenAI
) -> None:
    threads = [thread(f"t{n}") for n in range(20)]
    workers = [await start_worker(env, PARLEY_QUEUE__CONCURRENCY="20") for _ in range(3)]
    try:
        for turn in range(10):
            for each in threads:
                assert await queue.enqueue(each, f"{each.thread}-{turn}", payload(f"{each.thread} #{turn}"))

        async def answered() -> int:
            return sum([len(await thread_texts(redis, prefix, each)) for each in threads])

        for _ in range(6000):
            if await answered() == 200:
                break
            assert all(worker.returncode is None for worker in workers)
            await asyncio.sleep(0.05)
    finally:
        logs = [await sigterm(worker) for worker in workers]
    for each in threads:
        assert await thread_texts(redis, prefix, each) == [f"echo: {each.thread} #{turn}" for turn in range(10)]
    handled = [entry.decode() for entry in await redis.lrange(f"{prefix}:test-handled", 0, -1)]
    assert len(handled) == len(set(handled)) == 200, "each message handed to a handler once"
    assert await redis.get(f"{prefix}:test-overlaps") is None, "never two messages of a thread at once"
    assert [worker.returncode for worker in workers] == [128 + signal.SIGTERM] * 3
    for _, err in logs:
        assert_clean_exit(err)
    assert (await queue.status()).shards[0].depth == 0


async def test_a_worker_killed_mid_reply_is_replaced_and_the_reply_finished_in_its_message(
    env: dict[str, str], queue: Queue, redis: Redis, prefix: str, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("a long answer, streamed slowly, that its worker never finishes", chunk_size=2, delay=0.1))
    each = thread("t1")
    first = await start_worker(env, PARLEY_QUEUE__RECLAIM_AFTER="1")
    try:
        await queue.enqueue(each, "E1", payload("question"))
        for _ in range(600):
            if await thread_texts(redis, prefix, each):
                break
            await asyncio.sleep(0.05)
        first.kill()
    finally:
        await finish(first)
    assert await thread_texts(redis, prefix, each) != ["echo: question"]
    port = free_port()
    second = await start_worker(env, "--port", str(port), PARLEY_QUEUE__RECLAIM_AFTER="1")
    try:
        health = await healthz(f"http://127.0.0.1:{port}", second)
        assert isinstance(health, dict)
        assert (health["ok"], health["platforms"], health["worker"].endswith(f"-{second.pid}")) == (
            True,
            ["chat"],
            True,
        )
        for _ in range(1200):
            if await thread_texts(redis, prefix, each) == ["echo: question"]:
                break
            await asyncio.sleep(0.05)
    finally:
        _, err = await sigterm(second)
    assert await thread_texts(redis, prefix, each) == ["echo: question"]
    writes = await thread_writes(redis, prefix, each)
    assert [write for write in writes if write.startswith("post")] == ["post 1"], "one bot message in the end"
    assert_clean_exit(err)
