"""Fixtures for the Discord tests: the fake Discord, and the real adapter connected to it with the core."""

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


@pytest_asyncio.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
    assert server.unhandled == [], "the adapter called endpoints the fake does not know"


@pytest.fixture
def discord_config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, discord={"edit_interval": EDIT_INTERVAL, "first_text_grace": 0})


@contextlib.asynccontextmanager
async def running(
    config: Config, store: Store, discord_fake: FakeDiscord, **options: Any
) -> AsyncIterator[Conversation]:
    """The core and the real Discord adapter, connected to the fake until the block ends."""
    async with running_adapter(config, store, discord_fake, **options) as adapter:
        yield adapter.conversation


@contextlib.asynccontextmanager
async def running_adapter(
    config: Config, store: Store, discord_fake: FakeDiscord, **options: Any
) -> AsyncIterator[DiscordAdapter]:
    """The real Discord adapter on the core, connected to the fake until the block ends."""
    backends = open_backends(config, os.environ)
    conversation = Conversation(config=config, store=store, backends=backends)
    adapter: DiscordAdapter = create(conversation, discord_fake.environ(), **options)
    task = asyncio.create_task(adapter.run())
    try:
        await asyncio.wait([task, asyncio.create_task(discord_fake.wait_connected())], return_when="FIRST_COMPLETED")
        if task.done():
            task.result()
        yield adapter
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for backend in backends.values():
            await backend.aclose()


@pytest_asyncio.fixture
async def bot(discord_config: Config, store: Store, discord_fake: FakeDiscord) -> AsyncIterator[Conversation]:
    async with running(discord_config, store, discord_fake) as conversation:
        yield conversation
