"""Discord's write budgets are the core's, shared by every parley process on one Redis."""

from __future__ import annotations

import pytest

from adapters.discord.sink import Destination, DiscordSink
from bot.config import Config
from bot.conversation import Conversation
from bot.store import Store
from tests.core.test_shared_pacing import Processes
from tests.core.test_streaming import FakeClock
from tests.discord.test_discord_pacing import Place, discord_config
from tests.support.discord_harness import bot, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply

__all__ = ["bot", "discord_config", "discord_fake"]


async def test_replies_in_one_channel_share_its_budget_across_processes(store: Store) -> None:
    clock = FakeClock()
    processes = Processes(store, clock)
    books = [processes.book() for _ in range(2)]
    here = [DiscordSink(Destination(Place(1)), edit_interval=1.5, paces=book) for book in books]  # type: ignore[arg-type]
    for _ in range(3):
        await here[0].pace().take("post", clock.sleep)
    await processes.settle()
    await here[1].pace().take("post", clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(1.5), "the channel's three writes at once are spent in both"
    there = DiscordSink(Destination(Place(2)), edit_interval=1.5, paces=books[1])  # type: ignore[arg-type]
    await there.pace().take("post", clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(1.5), "another channel has its own"


async def test_the_adapter_writes_through_the_cores_shared_budgets(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store, discord_config: Config
) -> None:
    fake.queue(Reply("Counted.", chunk_size=100))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} count")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["Counted."], what="the reply")
    keys = [key async for key in store.redis.scan_iter(f"{store.prefix}:pace:discord:*")]
    assert keys, "the reply's writes took from a budget in Redis"
