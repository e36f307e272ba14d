"""Discord on the durable queue, as real processes: ``parley run discord --ingress-only`` accepts and queues,
``parley worker`` answers over Discord's REST API alone; a worker killed mid-reply is replaced by another,
which finishes the same message in the same thread; a job that never finishes ends in a notice."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from redis.asyncio import Redis

from bot.notices import GAVE_UP
from tests.support.discord_harness import discord_fake
from tests.support.fake_discord import TOKEN, FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.parley_process import assert_clean_exit, parley, sigterm, start, user_env

__all__ = ["discord_fake"]

RECLAIM_AFTER = "0.5"


def queue_env(redis_url: str, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, home: Path, **extra: str):
    """A user's environment for the Discord processes: a small reclaim_after, so a dead worker is replaced soon."""
    return user_env(
        redis_url, prefix, fake, home, PARLEY_QUEUE__RECLAIM_AFTER=RECLAIM_AFTER, **discord_fake.environ(), **extra
    )


def thread_opens(discord_fake: FakeDiscord, message_id: str) -> int:
    return sum(1 for r in discord_fake.requests if r.method == "POST" and r.path.endswith(f"/{message_id}/threads"))


async def ingress(env: dict[str, str], discord_fake: FakeDiscord) -> asyncio.subprocess.Process:
    process = await start("run", "discord", "--ingress-only", "--host", "127.0.0.1", "--port", "0", env=env)
    await discord_fake.wait_connected()
    return process


async def kill(process: asyncio.subprocess.Process) -> None:
    """What an OOM kill does: no clean-up, no acknowledgement."""
    process.kill()
    await process.communicate()


async def test_an_ingress_process_and_a_worker_process_answer_a_mention_and_the_worker_has_no_gateway(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    env = queue_env(redis_url, prefix, fake, discord_fake, tmp_path, PYTHONWARNINGS="default")
    accepting = await ingress(env, discord_fake)
    answering = await start("worker", env=env)
    try:
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"], what="the answer")
        thread = discord_fake.thread_of(mid)
        assert thread is not None and thread["name"] == "hi", "the worker opened the thread, over REST"
        await discord_fake.user_message(mid, discord_fake.bob, "and then?")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi", "echo: and then?"])
    finally:
        _, worker_log = await sigterm(answering)
        _, ingress_log = await sigterm(accepting)
    assert discord_fake.gateway_paths == ["/gateway"], "one gateway connection: the ingress's"
    assert discord_fake.identifies == 1, "the worker never identified on the gateway"
    assert answering.returncode == 128 + signal.SIGTERM, worker_log
    assert accepting.returncode == 128 + signal.SIGTERM, ingress_log
    assert_clean_exit(worker_log, TOKEN)
    assert_clean_exit(ingress_log, TOKEN)


async def test_a_worker_killed_mid_reply_is_replaced_and_the_same_message_is_finished_in_the_same_thread(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    env = queue_env(redis_url, prefix, fake, discord_fake, tmp_path)
    accepting = await ingress(env, discord_fake)
    first = await start("worker", env=env)
    second: asyncio.subprocess.Process | None = None
    try:
        fake.queue(Reply("slow " * 400, chunk_size=5, delay=0.05))
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
        await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="the reply to start")
        (partial,) = discord_fake.bot_messages(mid)
        await kill(first)

        second = await start("worker", env=env)
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: go"], what="the reply finished")
    finally:
        if second is not None:
            await sigterm(second)
        await sigterm(accepting)
    (reply,) = discord_fake.bot_messages(mid)
    assert reply.id == partial.id, "the second worker edited the message the first one posted"
    assert reply.versions[0].startswith("slow") and reply.versions[-1] == "echo: go"
    assert thread_opens(discord_fake, mid) == 1, "no second thread was asked for"
    assert len(fake.requests) == 2


async def test_a_job_that_never_finishes_becomes_a_dead_letter_and_the_user_is_told(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    env = queue_env(redis_url, prefix, fake, discord_fake, tmp_path, PARLEY_QUEUE__MAX_ATTEMPTS="1")
    accepting = await ingress(env, discord_fake)
    first = await start("worker", env=env)
    second: asyncio.subprocess.Process | None = None
    try:
        fake.queue(Reply("slow " * 400, chunk_size=5, delay=0.05))
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
        await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="the reply to start")
        await kill(first)

        second = await start("worker", env=env)
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid)[-1:] == [GAVE_UP], what="the notice")
        later = await discord_fake.user_message(discord_fake.general, discord_fake.bob, f"{discord_fake.mention} hi")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(later) == ["echo: hi"], what="the next answer")
    finally:
        if second is not None:
            await sigterm(second)
        await sigterm(accepting)
    assert thread_opens(discord_fake, mid) == 1, "the notice went to the thread the first attempt opened"
    assert len(fake.requests) == 2, "the dead job was not answered again"


async def test_a_worker_with_a_refused_token_stops_at_start_and_says_what_to_do(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    env = {**queue_env(redis_url, prefix, fake, discord_fake, tmp_path), "DISCORD_BOT_TOKEN": "not-the-token"}
    code, _, err = await parley("worker", env=env)
    assert code == 2, err
    assert "Discord refused the token in DISCORD_BOT_TOKEN" in err
    assert discord_fake.identifies == 0
