"""The Discord thread or reply chain parley joins: read once when first mentioned, then followed from events."""

from __future__ import annotations

from bot.channels import Channels
from bot.conversation import Conversation
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.discord_harness import bot, discord_config, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI

__all__ = ["bot", "discord_config", "discord_fake"]


def history_reads(discord_fake: FakeDiscord, channel: str) -> int:
    return sum(
        1 for r in discord_fake.requests if r.method == "GET" and r.path.endswith(f"/channels/{channel}/messages")
    )


async def test_a_mention_in_a_thread_reads_it_once_then_follows_it(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    world = discord_fake
    thread = world.open_thread(world.general, "outage")["id"]
    expected = []
    for number in range(12):
        author = world.alice if number % 2 == 0 else world.bob
        await world.user_message(thread, author, f"outage note {number}")
        expected.append(f"{author['global_name']}: outage note {number}")
    await world.user_message(thread, world.bob, f"{world.mention} what went wrong?")
    await world.wait_for(lambda: world.bot_texts(thread) == ["echo: what went wrong?"])
    assert [m["content"] for m in fake.requests[0]["messages"][1:]] == [*expected, "what went wrong?"]
    assert history_reads(world, thread) == 1

    await world.user_message(thread, world.alice, "the database restarted at 10:02")
    await world.user_message(thread, world.bob, f"{world.mention} and now?")
    await world.wait_for(lambda: world.bot_texts(thread)[1:] == ["echo: and now?"])
    assert [m["content"] for m in fake.requests[1]["messages"][1:]] == [
        *expected,
        "what went wrong?",
        "echo: what went wrong?",
        "Alice: the database restarted at 10:02",
        "and now?",
    ]
    assert history_reads(world, thread) == 1, "later turns read Redis, not Discord"
    assert len(fake.requests) == 2


async def test_a_mention_that_replies_into_a_chain_reads_the_chain(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    world = discord_fake
    await Channels(bot.config, store).set(ChannelKey("discord", world.guild, world.general), "reply_mode", "reply")
    root = await world.user_message(world.general, world.alice, "the build is red")
    middle = await world.user_message(world.general, world.bob, "since the merge at noon", reply_to=root, ping=False)
    await world.user_message(world.general, world.alice, f"{world.mention} why?", reply_to=middle, ping=False)
    await world.wait_for(lambda: world.bot_texts(world.general) == ["echo: why?"])
    assert [m["content"] for m in fake.requests[0]["messages"][1:]] == [
        "Alice: the build is red",
        "Bob: since the merge at noon",
        "why?",
    ]
