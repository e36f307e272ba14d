"""Routing a message to the core: a channel's settings are read from Redis once per turn, and a turn that
waits for earlier turns of its conversation answers with the settings they left.

Redis commands are counted on the real Redis, by a client whose connections note what they send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import ConnectionPool, Redis

from adapters.discord.config import DiscordConfig
from bot.channels import Channels
from bot.config import Config
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.discord_harness import discord_config, discord_fake, running, running_adapter
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply

__all__ = ["discord_config", "discord_fake"]

Sent = list[tuple[str, ...]]


def noting(url: str, sent: Sent) -> Redis:
    """A real Redis client whose connections note every command they send (pipelined ones too) in ``sent``."""
    pool = ConnectionPool.from_url(url)

    class Noting(pool.connection_class):  # type: ignore[name-defined,misc]  # TCP or Unix socket, as the URL says
        def pack_command(self, *args: Any) -> list[bytes]:
            sent.append(tuple(arg.decode() if isinstance(arg, bytes) else str(arg) for arg in args))
            packed: list[bytes] = super().pack_command(*args)
            return packed

    pool.connection_class = Noting
    return Redis.from_pool(pool)


@pytest.fixture
def sent() -> Sent:
    return []


@pytest_asyncio.fixture
async def noted_store(redis_url: str, prefix: str, store: Store, sent: Sent) -> AsyncIterator[Store]:
    """The store the bot runs on, over the noting client (``store``, the usual one, removes the keys after)."""
    client = noting(redis_url, sent)
    yield Store(client, prefix)
    await client.aclose()


def channel(discord_fake: FakeDiscord) -> ChannelKey:
    return ChannelKey("discord", discord_fake.guild, discord_fake.general)


def settings_reads(sent: Sent, prefix: str, where: ChannelKey) -> int:
    return sum(1 for command in sent if command[:2] == ("HGETALL", f"{prefix}:overrides:{where}"))


@pytest.mark.parametrize("reply_mode", ["reply", "thread"])
async def test_a_mention_in_a_channel_reads_its_settings_once(
    reply_mode: str,
    discord_config: Config,
    store: Store,
    noted_store: Store,
    discord_fake: FakeDiscord,
    prefix: str,
    sent: Sent,
) -> None:
    general = channel(discord_fake)
    await Channels(discord_config, store).set(general, "reply_mode", reply_mode)
    async with running_adapter(discord_config, noted_store, discord_fake) as adapter:
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
        where = discord_fake.general if reply_mode == "reply" else mid
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(where) == ["echo: hi"])
        assert adapter.client is not None
        await adapter.client.settled()  # the answer is stored: a follow-up now waits for no earlier turn
        assert settings_reads(sent, prefix, general) == 1, "routing read the settings; the core did not again"

        if reply_mode == "reply":
            (answer,) = discord_fake.bot_messages(where)
            await discord_fake.user_message(where, discord_fake.alice, "and then?", reply_to=answer.id, ping=False)
        else:
            await discord_fake.user_message(where, discord_fake.alice, "and then?")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(where) == ["echo: hi", "echo: and then?"])
        assert settings_reads(sent, prefix, general) == 2, "the follow-up's settings were read once too"


async def test_a_turn_that_waits_answers_with_the_settings_an_earlier_turn_set(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    general = channel(discord_fake)
    await Channels(discord_config, store).set(general, "reply_mode", "reply")
    fake.queue(Reply("Once upon a time, a long story began.", chunk_size=2, delay=0.05))
    async with running(discord_config, store, discord_fake):
        here, alice = discord_fake.general, discord_fake.alice
        story = await discord_fake.user_message(here, alice, f"{discord_fake.mention} tell me a story")
        # Both arrive (and are routed) while the story is still being told; they run after it, in order.
        await discord_fake.user_message(here, alice, "/set temperature 0.7", reply_to=story, ping=False)
        await discord_fake.user_message(here, alice, "shorter, please", reply_to=story, ping=False)
        answers = [
            "Once upon a time, a long story began.",
            f"temperature is now 0.7 in {general}.",
            "echo: shorter, please",
        ]
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(here) == answers, what="the three answers")

    assert "temperature" not in fake.requests[0]
    assert fake.requests[1]["temperature"] == 0.7, "the answer saw the /set that ran before it"


async def test_the_rest_connection_pool_is_sized_from_the_config(
    discord_config: Config, store: Store, discord_fake: FakeDiscord
) -> None:
    sized = discord_config.model_copy(
        update={"discord": discord_config.table(DiscordConfig).model_copy(update={"max_connections": 7})}
    )
    async with running_adapter(sized, store, discord_fake) as adapter:
        assert adapter.client is not None
        connector = adapter.client.http.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector.limit == 7, "not aiohttp's default of 100"
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])
