"""Broadcast mentions in what parley writes to Discord: shown as text, never a ping (issue 10, item 8)."""

from __future__ import annotations

import re
from typing import Any

from adapters.discord.mentions import neutralised, shown_length
from adapters.discord.sink import MAX_CHARS
from bot.conversation import Conversation
from bot.notices import FAILURES
from bot.threads import ChannelKey
from tests.support.discord_harness import bot, discord_config, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import Drop, FakeOpenAI, Reply

__all__ = ["bot", "discord_config", "discord_fake"]

ZWSP = "\u200b"
INTACT = re.compile(r"@(everyone|here)", re.IGNORECASE)
NO_PINGS = {"parse": []}


def test_neutralised_breaks_every_broadcast_and_nothing_else() -> None:
    assert neutralised("@everyone and @here, now") == f"@{ZWSP}everyone and @{ZWSP}here, now"
    assert neutralised("@Everyone @HERE x@everyone") == f"@{ZWSP}Everyone @{ZWSP}HERE x@{ZWSP}everyone"
    assert neutralised(neutralised("@here")) == f"@{ZWSP}here", "a broken broadcast is not broken again"
    plain = "mail me at ada@example.com, <@123> <@&456> <#789> @someone"
    assert neutralised(plain) == plain, "other text, user, role and channel mentions stay as they are"
    for text in ("", "@", "@everyone" * 3, "@@here", f"@{ZWSP}everyone @here"):
        assert shown_length(text) == len(neutralised(text))
        assert not INTACT.search(neutralised(text))


def assert_harmless(discord_fake: FakeDiscord, channel_id: str) -> None:
    """Every version of every bot message there: no intact broadcast, sent with no mentions allowed."""
    messages = discord_fake.bot_messages(channel_id)
    assert messages
    for message in messages:
        assert message.pinged == set(), "nobody is notified"
        assert message.allowed_mentions and all(allowed == NO_PINGS for allowed in message.allowed_mentions)
        assert not [version for version in message.versions if INTACT.search(version)], message.versions


async def test_a_streamed_answer_shows_broadcasts_as_text_on_post_and_every_edit(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    hostile = f"@everyone @here <@&123> <@&{discord_fake.mods_role}> <@{discord_fake.bob['id']}> wake up, " * 4
    fake.queue(Reply(hostile, chunk_size=7, delay=0.01))
    question = f"{discord_fake.mention} @everyone look @here"
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, question)
    expected = hostile.replace("@everyone", f"@{ZWSP}everyone").replace("@here", f"@{ZWSP}here")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [expected], what="the whole answer")

    (message,) = discord_fake.bot_messages(mid)
    assert len(message.versions) >= 3, "the answer was posted, then edited as it streamed"
    assert_harmless(discord_fake, mid)
    thread = discord_fake.thread_of(mid)
    assert thread is not None and thread["name"] == f"@{ZWSP}everyone look @{ZWSP}here", "the thread's name too"


async def test_a_long_answer_split_for_the_broken_broadcasts_stays_within_discords_limit(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    """1,993 characters fit one message, but not once 199 zero-width spaces are in: the split counts them."""
    hostile = "@everyone " * 199 + "end"
    assert len(hostile) <= MAX_CHARS < shown_length(hostile)
    fake.queue(Reply(hostile, chunk_size=50))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} all")
    await discord_fake.wait_for(lambda: "".join(discord_fake.bot_texts(mid)).endswith("end"), what="the last part")

    texts = discord_fake.bot_texts(mid)
    assert len(texts) == 2 and all(0 < len(text) <= MAX_CHARS for text in texts)
    assert sum(text.count(f"@{ZWSP}everyone") for text in texts) == 199, "no word was lost at the cut"
    assert not [r for r in discord_fake.requests if r.status >= 400], "Discord refused nothing"
    assert_harmless(discord_fake, mid)


async def test_a_failure_notice_after_broadcasts_keeps_them_broken(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    """The notice comes after the text shown so far: that text stays harmless."""
    fake.queue(Drop(text_before="@here is the start, @everyone "))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
    notice = FAILURES["interrupted"]
    await discord_fake.wait_for(lambda: notice in "".join(discord_fake.bot_texts(mid)), what="the notice")
    assert "".join(discord_fake.bot_texts(mid)).startswith(f"@{ZWSP}here is the start, @{ZWSP}everyone")
    assert_harmless(discord_fake, mid)


def answer_texts(found: list[dict[str, Any]]) -> list[str]:
    """The texts of an interaction's answers (a response or a follow-up), each sent with no mentions allowed."""
    texts = []
    for answer in found:
        data = answer["data"]
        assert data["allowed_mentions"] == NO_PINGS
        texts.append(data["content"])
    return texts


async def test_command_answers_show_broadcasts_as_text(bot: Conversation, discord_fake: FakeDiscord) -> None:
    general, alice, found = discord_fake.general, discord_fake.alice, discord_fake.interaction_answers
    prompt = "You answer @everyone and @here."
    interaction = await discord_fake.slash(general, alice, "set", key="system_prompt", value=prompt)
    await discord_fake.wait_for(lambda: bool(found.get(interaction)), what="the answer to /parley set")
    shown = await discord_fake.slash(general, discord_fake.bob, "show")
    await discord_fake.wait_for(lambda: bool(found.get(shown)), what="the answer to /parley show")

    (set_text,) = answer_texts(found[interaction])
    (show_text,) = answer_texts(found[shown])
    assert f"@{ZWSP}everyone and @{ZWSP}here" in set_text and f"@{ZWSP}everyone" in show_text
    assert not INTACT.search(set_text + show_text)
    settings = await bot.settings_for(ChannelKey("discord", discord_fake.guild, discord_fake.general))
    assert settings.system_prompt == prompt, "the setting itself is stored as typed"
