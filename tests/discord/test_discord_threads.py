"""Less common paths of the Discord adapter: threads it cannot open or has not seen, role mentions, typed commands."""

from __future__ import annotations

import pytest

from adapters.discord import create
from bot.channels import Channels
from bot.config import ConfigError
from bot.conversation import Conversation
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.discord_harness import bot, discord_config, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI
from tests.support.net import free_port

__all__ = ["bot", "discord_config", "discord_fake"]


async def test_without_thread_permission_the_answer_is_a_reply_in_the_channel(
    bot: Conversation, discord_fake: FakeDiscord
) -> None:
    discord_fake.refuse_threads = True
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(discord_fake.general) == ["echo: hi"])
    (answer,) = discord_fake.bot_messages(discord_fake.general)
    assert answer.payload["message_reference"]["message_id"] == mid


async def test_a_thread_someone_else_opened_from_the_message_is_used(
    bot: Conversation, discord_fake: FakeDiscord
) -> None:
    discord_fake.thread_race = True
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])
    assert discord_fake.bot_texts(discord_fake.general) == []


async def test_a_thread_the_client_has_not_seen_is_looked_up(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    await Channels(bot.config, store).set(
        ChannelKey("discord", discord_fake.guild, discord_fake.general), "temperature", "0.4"
    )
    thread = discord_fake.open_thread(discord_fake.general, "older thread")["id"]
    await discord_fake.user_message(thread, discord_fake.bob, f"{discord_fake.mention} anyone here?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(thread) == ["echo: anyone here?"])
    assert fake.requests[0]["temperature"] == 0.4, "its parent channel's settings"
    await discord_fake.user_message(thread, discord_fake.alice, "thanks bob, and how was your weekend?")
    await discord_fake.user_message(thread, discord_fake.bob, f"{discord_fake.mention} and you?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(thread)[1:] == ["echo: and you?"])
    requests = [r["messages"][-1]["content"] for r in fake.requests]
    assert requests == ["anyone here?", "and you?"], "not the bot's thread: only mentions are answered"
    assert any(r.method == "GET" and r.path.endswith(f"/channels/{thread}") for r in discord_fake.requests)


async def test_a_thread_whose_parent_channel_is_not_cached_is_answered(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    unseen = discord_fake.new_id()  # a channel the client never heard of (no GUILD_CREATE or CHANNEL_CREATE had it)
    discord_fake.channels[unseen] = {**discord_fake.channels[discord_fake.general], "id": unseen, "name": "unseen"}
    await Channels(bot.config, store).set(ChannelKey("discord", discord_fake.guild, unseen), "temperature", "0.6")
    thread = discord_fake.open_thread(unseen, "in the unseen channel")["id"]
    await discord_fake.user_message(thread, discord_fake.alice, f"{discord_fake.mention} hello?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(thread) == ["echo: hello?"])
    assert fake.requests[0]["temperature"] == 0.6, "the settings of its parent channel, by parent_id"
    await discord_fake.user_message(thread, discord_fake.alice, f"{discord_fake.mention} /set temperature 0.1")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(thread)) == 2)
    assert discord_fake.bot_texts(thread)[1].startswith("Sorry, only admins"), "unknown permissions grant nothing"


async def test_a_threads_title_shows_names_not_mention_markup(bot: Conversation, discord_fake: FakeDiscord) -> None:
    question = f"{discord_fake.mention} does <@{discord_fake.bob['id']}> read <#{discord_fake.random}> <:wave:123>?"
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, question)
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1)
    thread = discord_fake.thread_of(mid)
    assert thread is not None and thread["name"] == "does @Bob read #random :wave:?"


async def test_a_message_in_the_bots_archived_thread_is_answered_with_its_history(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} I am Ada")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: I am Ada"])
    await discord_fake.archive(mid)  # a day without messages
    await discord_fake.user_message(mid, discord_fake.alice, "still there?")  # no mention: it is the bot's thread
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid)[1:] == ["echo: still there?"])
    assert [m["content"] for m in fake.requests[1]["messages"]][-3:] == ["I am Ada", "echo: I am Ada", "still there?"]


async def test_mentioning_the_bots_role_counts_as_a_mention(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"<@&{discord_fake.bot_role}> hi")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])


async def test_commands_typed_in_a_thread_use_the_authors_channel_permissions(
    bot: Conversation, discord_fake: FakeDiscord, store: Store
) -> None:
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])
    await discord_fake.user_message(mid, discord_fake.bob, f"{discord_fake.mention} /set temperature 0.5")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 2)
    assert discord_fake.bot_texts(mid)[1].startswith("Sorry, only admins")
    await discord_fake.user_message(mid, discord_fake.alice, f"{discord_fake.mention} /set temperature 0.5")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 3)
    general = ChannelKey("discord", discord_fake.guild, discord_fake.general)
    assert discord_fake.bot_texts(mid)[2] == f"temperature is now 0.5 in {general}."
    assert (await Channels(bot.config, store).resolve(general)).settings.temperature == 0.5


async def test_an_unreachable_discord_is_a_clear_error(core: Conversation, discord_fake: FakeDiscord) -> None:
    environ = {**discord_fake.environ(), "DISCORD_API_URL": f"http://127.0.0.1:{free_port()}/api/v10"}
    with pytest.raises(ConfigError, match=r"cannot reach Discord at http://127\.0\.0\.1"):
        await create(core, environ).run()
