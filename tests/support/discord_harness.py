"""Fixtures for the Discord tests: the fake Discord, and the real adapter connected to it with the core.

As ``parley run discord`` does, the adapter's gateway client queues each message and a worker in the same
process answers it through the adapter's handler (the same client)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from adapters.discord import DiscordAdapter, create
from bot.config import Config
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.store import Store
from tests.support.config import make_config
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI

EDIT_INTERVAL = 0.2
RECLAIM_AFTER = 1.0


@pytest_asyncio.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
    assert server.unhandled == [], "the adapter called endpoints the fake does not know"


@pytest.fixture
def discord_config(fake: FakeOpenAI, prefix: str) -> Config:
    """A worker takes a failed job again after ``RECLAIM_AFTER`` seconds (not 30: a test waits at most 30)."""
    return make_config(
        fake.url,
        prefix,
        discord={"edit_interval": EDIT_INTERVAL, "first_text_grace": 0},
        queue={"reclaim_after": RECLAIM_AFTER},
    )


@contextlib.asynccontextmanager
async def running(
    config: Config, store: Store, discord_fake: FakeDiscord, **options: Any
) -> AsyncIterator[Conversation]:
    """The core and the real Discord adapter, connected to the fake until the block ends."""
    async with running_adapter(config, store, discord_fake, **options) as adapter:
        yield adapter.conversation


@contextlib.asynccontextmanager
async def running_adapter(
    config: Config, store: Store, discord_fake: FakeDiscord, *, answering: bool = True, **options: Any
) -> AsyncIterator[DiscordAdapter]:
    """The real Discord adapter on the core, connected to the fake, and a worker answering the messages it
    queues through the adapter's handler, until the block ends (``answering=False``: only the adapter, as
    ``parley run discord --ingress-only``)."""
    backends = open_backends(config, os.environ)
    conversation = Conversation(config=config, store=store, backends=backends)
    adapter: DiscordAdapter = create(conversation, discord_fake.environ(), **options)
    stop = asyncio.Event()
    worker = asyncio.create_task(
        conversation.worker({"discord": adapter.worker}, "discord-test").run(stop) if answering else stop.wait()
    )
    task = asyncio.create_task(adapter.run())
    try:
        await asyncio.wait([task, asyncio.create_task(discord_fake.wait_connected())], return_when="FIRST_COMPLETED")
        if task.done():
            task.result()
        yield adapter
    finally:
        stop.set()
        for running_task in (worker, task):
            running_task.cancel()
        await asyncio.gather(worker, task, return_exceptions=True)
        if answering:
            await adapter.worker.aclose()  # the client outlives the gateway until the worker has stopped
        for backend in backends.values():
            await backend.aclose()


@pytest_asyncio.fixture
async def bot(discord_config: Config, store: Store, discord_fake: FakeDiscord) -> AsyncIterator[Conversation]:
    async with running(discord_config, store, discord_fake) as conversation:
        yield conversation
