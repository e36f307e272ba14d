"""Queued Discord jobs in one test process: an ingress-only adapter, and workers answering over REST alone
(``create_handler``, as ``parley worker`` does). A worker that vanishes mid-reply leaves its job to another,
which finishes the same message in the same thread; a job out of attempts ends in a notice there."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from adapters.discord import create_handler
from bot.config import Config
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.notices import GAVE_UP
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.discord_harness import discord_config, discord_fake, running, running_adapter
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply

__all__ = ["discord_config", "discord_fake"]


@contextlib.asynccontextmanager
async def rest_worker(config: Config, store: Store, discord_fake: FakeDiscord, name: str) -> AsyncIterator[None]:
    """A worker of its own (core and REST-only Discord handler) until the block ends; cancelled, it leaves
    the jobs in its hands unfinished (``drain_seconds`` 0), as a killed process does."""
    backends = open_backends(config, os.environ)
    conversation = Conversation(config=config, store=store, backends=backends)
    handler = create_handler(conversation, discord_fake.environ())
    stop = asyncio.Event()
    task = asyncio.create_task(conversation.worker({"discord": handler}, name).run(stop))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await handler.aclose()
        for backend in backends.values():
            await backend.aclose()


def with_queue(config: Config, **queue: object) -> Config:
    return config.model_copy(update={"queue": config.queue.model_copy(update={"drain_seconds": 0, **queue})})


def thread_opens(discord_fake: FakeDiscord, message_id: str) -> int:
    return sum(1 for r in discord_fake.requests if r.method == "POST" and r.path.endswith(f"/{message_id}/threads"))


async def test_a_rest_worker_answers_without_a_gateway_and_a_vanished_ones_reply_is_finished_in_place(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    config = with_queue(discord_config)
    async with running_adapter(config, store, discord_fake, answering=False):
        fake.queue(Reply("slow " * 400, chunk_size=5, delay=0.05))
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
        async with rest_worker(config, store, discord_fake, "first"):
            await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="the reply to start")
        (partial,) = discord_fake.bot_messages(mid)
        assert partial.content.startswith("slow")

        async with rest_worker(config, store, discord_fake, "second"):
            await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: go"], what="the reply")
            later = await discord_fake.user_message(mid, discord_fake.bob, "and then?")
            await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid)[1:] == ["echo: and then?"])
            assert later in discord_fake.messages
    reply = discord_fake.bot_messages(mid)[0]
    assert reply.id == partial.id, "the second worker edited the message the first one posted"
    assert reply.versions[-1] == "echo: go"
    assert thread_opens(discord_fake, mid) == 1, "no second thread was asked for"
    assert discord_fake.identifies == 1 and discord_fake.gateway_paths == ["/gateway"], "workers have no gateway"
    assert fake.requests[1]["messages"][-1]["content"] == "go"
    assert [m["content"] for m in fake.requests[2]["messages"][1:]] == ["go", "echo: go", "and then?"]


async def test_a_job_out_of_attempts_is_a_dead_letter_and_the_thread_is_told(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    config = with_queue(discord_config, max_attempts=1)
    async with running_adapter(config, store, discord_fake, answering=False):
        fake.queue(Reply("slow " * 400, chunk_size=5, delay=0.05))
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
        async with rest_worker(config, store, discord_fake, "first"):
            await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="the reply to start")

        async with rest_worker(config, store, discord_fake, "second"):
            await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid)[-1:] == [GAVE_UP], what="the notice")
            world = discord_fake
            other = await world.user_message(world.general, world.bob, f"{world.mention} hi")
            await world.wait_for(lambda: world.bot_texts(other) == ["echo: hi"], what="the next answer")
    assert discord_fake.bot_texts(mid) == [GAVE_UP], "the notice in place of the partial reply (no half reply left)"
    assert thread_opens(discord_fake, mid) == 1, "the notice went to the thread the first attempt opened"
    assert len(fake.requests) == 2, "the dead job was not answered again"


async def test_a_job_whose_payload_is_not_a_discord_one_is_dropped_unanswered_and_others_flow(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    world = discord_fake
    async with running(discord_config, store, world) as conversation:
        garbage = ThreadKey("discord", world.guild, world.general, world.new_id())
        assert await conversation.enqueue(garbage, world.new_id(), {"delivery": "somewhere", "text": "hi"})
        mid = await world.user_message(world.general, world.alice, f"{world.mention} hi")
        await world.wait_for(lambda: world.bot_texts(mid) == ["echo: hi"], what="the next answer")
        for _ in range(300):
            status = await conversation.queue.status()
            if all(shard.depth == 0 for shard in status.shards):
                break
            await asyncio.sleep(0.1)
    assert [shard.depth for shard in status.shards] == [0] and status.dead == 0, "acknowledged, not a dead letter"
    assert len(fake.requests) == 1, "the model was asked only for the real message"
    assert world.thread_of(garbage.thread) is None
