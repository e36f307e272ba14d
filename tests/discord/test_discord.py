"""The Discord adapter as users see it: the real discord.py client against a loopback fake Discord."""

from __future__ import annotations

import itertools
import re
from typing import Any

from bot.channels import Channels
from bot.config import Config
from bot.conversation import Conversation
from bot.notices import FAILURES
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.discord_harness import EDIT_INTERVAL, bot, discord_config, discord_fake, running
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_discord_world import pinged
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply

__all__ = ["bot", "discord_config", "discord_fake"]


def contents(request: dict[str, Any]) -> list[str]:
    return [message["content"] for message in request["messages"]]


def channel(discord_fake: FakeDiscord) -> ChannelKey:
    return ChannelKey("discord", discord_fake.guild, discord_fake.general)


async def test_a_mention_opens_a_thread_and_streams_the_reply(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    answer = "Hello Alice! " * 30
    fake.queue(Reply(answer, chunk_size=8, delay=0.02))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi there")

    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [answer], what="the complete reply")
    thread = discord_fake.thread_of(mid)
    assert thread is not None and thread["parent_id"] == discord_fake.general and thread["name"] == "hi there"
    assert discord_fake.bot_texts(discord_fake.general) == [], "the answer is in the thread, not the channel"
    assert mid in discord_fake.typing, "typing was shown in the thread while the model thought"
    assert contents(fake.requests[0])[-1] == "hi there", "the bot's mention is not part of the prompt"

    (reply,) = discord_fake.bot_messages(mid)
    assert len(reply.versions) >= 3, "the reply grew by edits while it streamed"
    assert all(answer.startswith(version) for version in reply.versions)
    edits = [r.at for r in discord_fake.edits() if r.path.endswith(reply.id)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(edits)]
    # While the reply streams; its last edit goes out as the stream ends, when the channel's budget has room.
    assert all(gap >= EDIT_INTERVAL * 0.9 for gap in gaps[:-1]), f"edits closer than {EDIT_INTERVAL}s: {gaps}"


async def test_a_follow_up_in_the_thread_sees_the_history_and_the_channel_settings(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    await Channels(bot.config, store).set(channel(discord_fake), "system_prompt", "You are the general channel's bot.")
    await Channels(bot.config, store).set(channel(discord_fake), "temperature", "0.3")
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} I am Ada")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: I am Ada"])

    await discord_fake.user_message(mid, discord_fake.bob, "who am I?")  # no mention needed in the bot's thread
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid)[1:] == ["echo: who am I?"])
    assert contents(fake.requests[1]) == [
        "You are the general channel's bot.",
        "I am Ada",
        "echo: I am Ada",
        "who am I?",
    ]
    assert fake.requests[1]["temperature"] == 0.3, "the thread uses its parent channel's settings"
    assert len(fake.requests) == 2, "the bot's own messages (echoed by the gateway) are never answered"


async def test_a_dm_is_answered_and_remembered(bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI) -> None:
    dm = discord_fake.open_dm(discord_fake.bob)
    await discord_fake.user_message(dm, discord_fake.bob, "hello in private")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(dm) == ["echo: hello in private"])
    await discord_fake.user_message(dm, discord_fake.bob, "and again")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(dm)[1:] == ["echo: and again"])
    assert contents(fake.requests[1])[1:] == ["hello in private", "echo: hello in private", "and again"]
    assert discord_fake.thread_of(dm) is None


async def test_reply_mode_answers_in_place_and_follows_the_chain(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    await Channels(bot.config, store).set(channel(discord_fake), "reply_mode", "reply")
    general = discord_fake.general
    first = await discord_fake.user_message(general, discord_fake.alice, f"{discord_fake.mention} my name is Ada")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(general) == ["echo: my name is Ada"])
    (answer,) = discord_fake.bot_messages(general)
    assert answer.payload["message_reference"]["message_id"] == first, "the answer replies to the question"
    assert answer.pinged == set(), "the reply does not ping its author"
    assert discord_fake.thread_of(first) is None, "reply mode opens no thread"

    await discord_fake.user_message(general, discord_fake.bob, "just chatting")  # not for the bot
    await discord_fake.user_message(general, discord_fake.alice, "what is my name?", reply_to=answer.id)
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(general)) == 2)
    assert contents(fake.requests[1])[1:] == ["my name is Ada", "echo: my name is Ada", "what is my name?"]

    second = discord_fake.bot_messages(general)[1]
    await discord_fake.user_message(general, discord_fake.alice, "and before that?", reply_to=second.id, ping=False)
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(general)) == 3)
    assert contents(fake.requests[2])[1:4] == ["my name is Ada", "echo: my name is Ada", "what is my name?"]

    await discord_fake.user_message(general, discord_fake.alice, f"{discord_fake.mention} a new topic")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(general)) == 4)
    assert contents(fake.requests[3])[1:] == ["a new topic"], "a new mention starts a new chain"
    assert len(fake.requests) == 4, "the message that was not for the bot got no answer"


def fences_balanced(text: str) -> bool:
    return len(re.findall(r"^```", text, re.M)) % 2 == 0


async def test_a_long_reply_with_code_is_split_into_valid_messages(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    prose = "\n\n".join(f"Paragraph {n}: " + "words " * 40 for n in range(6))
    code = "\n".join(f"    total += compute({n})  # step {n}" for n in range(100))
    answer = f"{prose}\n\n```python\ndef main():\n{code}\n```\n\nThat is all."
    assert 5000 <= len(answer) < 5200
    fake.queue(Reply(answer, chunk_size=200))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} code pls")
    await discord_fake.wait_for(lambda: "".join(discord_fake.bot_texts(mid)).endswith("That is all."), what="the end")

    texts = discord_fake.bot_texts(mid)
    assert len(texts) >= 3
    assert all(0 < len(text) <= 2000 for text in texts)
    assert all(fences_balanced(text) for text in texts), "every message closes the code block it opens"
    reopened = [text for text in texts[1:] if text.startswith("```python\n")]
    assert reopened, "the code block continues in the next message with its language"
    joined = "".join(texts).replace("```", "").replace("python", "")
    for line in code.splitlines():
        assert line.strip() in joined, f"lost: {line}"


async def test_model_output_pings_nobody(bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI) -> None:
    hostile = f"@everyone @here <@{discord_fake.bob['id']}> <@&{discord_fake.mods_role}> wake up"
    fake.queue(Reply(hostile, chunk_size=6, delay=0.01))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} ping all")
    shown = hostile.replace("@everyone", "@\u200beveryone").replace("@here", "@\u200bhere")  # text, not broadcasts
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [shown])
    (message,) = discord_fake.bot_messages(mid)
    assert message.pinged == set(), "nobody is notified"
    assert all(allowed == {"parse": []} for allowed in message.allowed_mentions), "every send and edit says so"


def test_the_fake_pings_as_discord_does() -> None:
    """So that "pings nobody" above means something: without allowed_mentions, everyone is pinged."""
    text = "@everyone <@12> <@&34> hi"
    assert pinged(text, None) == {"@everyone", "user:12", "role:34"}
    assert pinged(text, {"parse": ["users"]}) == {"user:12"}
    assert pinged("hi", None, reply_author="56") == {"user:56"}
    assert pinged(text, {"parse": []}, reply_author="56") == set()


async def test_ignored_messages(bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI) -> None:
    general, mention = discord_fake.general, discord_fake.mention
    await discord_fake.user_message(general, discord_fake.otherbot, f"{mention} hello from a bot")
    await discord_fake.user_message(general, discord_fake.alice, f"{mention} pinned a message", kind=6)  # system
    await discord_fake.user_message(general, discord_fake.alice, f"{mention}   ")
    await discord_fake.user_message(general, discord_fake.alice, "no mention, no answer")
    last = await discord_fake.user_message(general, discord_fake.alice, f"{mention} only this one")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(last) == ["echo: only this one"])
    assert [contents(request)[-1] for request in fake.requests] == ["only this one"]
    assert [m for m in discord_fake.messages.values() if m.by_bot and m.channel_id != last] == []


async def test_other_bots_are_answered_when_configured(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    config = discord_config.model_copy(
        update={"discord": discord_config.discord.model_copy(update={"answer_bots": True})}
    )
    async with running(config, store, discord_fake):
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.otherbot, f"{discord_fake.mention} hi")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])


async def test_a_message_sent_while_a_reply_streams_is_answered_after_it(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("first answer, slowly", chunk_size=2, delay=0.05))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} one")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="the first reply to start")
    await discord_fake.user_message(mid, discord_fake.alice, "two")
    await discord_fake.user_message(mid, discord_fake.alice, "three")
    expected = ["first answer, slowly", "echo: two", "echo: three"]
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == expected, what=f"{expected}")
    assert contents(fake.requests[1])[1:] == ["one", "first answer, slowly", "two"]
    assert contents(fake.requests[2])[-3:] == ["two", "echo: two", "three"]


async def test_a_failed_backend_call_gets_a_short_reply_and_the_bot_keeps_serving(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.queue(HTTPError(503), HTTPError(503), HTTPError(503))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hello?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [FAILURES["unavailable"]])
    await discord_fake.user_message(mid, discord_fake.alice, f"{discord_fake.mention} and now?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid)[1:] == ["echo: and now?"])
    assert contents(fake.requests[-1])[1:] == ["and now?"], "the failed turn was not remembered"


async def test_at_bot_reset_in_a_thread_forgets_it(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    mid = await discord_fake.user_message(
        discord_fake.general, discord_fake.alice, f"{discord_fake.mention} remember 7"
    )
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: remember 7"])
    await discord_fake.user_message(mid, discord_fake.alice, f"{discord_fake.mention} reset")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 2)
    assert "forgotten" in discord_fake.bot_texts(mid)[1]
    await discord_fake.user_message(mid, discord_fake.alice, f"{discord_fake.mention} what number?")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 3)
    assert contents(fake.requests[-1])[1:] == ["what number?"]
    assert len(fake.requests) == 2, "reset went to no model"
