"""The Discord adapter's pure decisions: which messages it answers, and in which conversation."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.discord.events import Facts, channel_key, ignored, plan, prompt_text
from adapters.discord.sink import thread_name
from bot.threads import ChannelKey, ThreadKey

BOT = 42


def facts(**changes: object) -> Facts:
    base = Facts(
        message_id="900",
        author_id="7",
        author_name="Ada",
        author_is_bot=False,
        is_system=False,
        content=f"<@{BOT}> hello",
        guild_id="1",
        channel_id="10",
        place="text",
        parent_id=None,
        mentions_bot=True,
        reference_id=None,
        is_admin=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_mention_is_stripped_in_both_forms() -> None:
    assert prompt_text(f"<@{BOT}> what is <@!{BOT}> up to?", BOT) == "what is   up to?"
    assert prompt_text("<@43> is someone else", BOT) == "<@43> is someone else"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"author_id": str(BOT)}, "the bot's own message"),
        ({"author_is_bot": True}, "another bot"),
        ({"is_system": True}, "a system message"),
        ({"content": f"<@{BOT}>  "}, "no text"),
        ({"place": "other"}, "channel type"),
    ],
)
def test_ignored(changes: dict[str, object], reason: str) -> None:
    found = ignored(facts(**changes), bot_id=BOT, answer_bots=False)
    assert found is not None and reason in found


def test_other_bots_only_when_configured() -> None:
    assert ignored(facts(author_is_bot=True), bot_id=BOT, answer_bots=True) is None
    assert ignored(facts(author_id=str(BOT), author_is_bot=True), bot_id=BOT, answer_bots=True) is not None


def test_a_mention_in_a_channel_opens_a_thread_keyed_by_the_message() -> None:
    decided = plan(facts(is_admin=True), bot_id=BOT, reply_mode="thread", chain_root=None)
    assert decided is not None and decided.delivery == "new_thread"
    assert decided.message.thread == ThreadKey("discord", "1", "10", "900")
    assert decided.message.text == "hello" and decided.message.mentioned and decided.message.author.is_admin


def test_without_a_mention_a_channel_message_is_not_for_the_bot() -> None:
    assert plan(facts(mentions_bot=False), bot_id=BOT, reply_mode="thread", chain_root=None) is None
    assert plan(facts(mentions_bot=False), bot_id=BOT, reply_mode="reply", chain_root=None) is None


def test_in_someone_elses_thread_only_a_mention_is_for_the_bot() -> None:
    chatter = facts(place="thread", channel_id="900", parent_id="10", mentions_bot=False, thread_owner_id="7")
    assert plan(chatter, bot_id=BOT, reply_mode="thread", chain_root=None) is None
    mention = dataclasses.replace(chatter, mentions_bot=True)
    assert plan(mention, bot_id=BOT, reply_mode="thread", chain_root=None) is not None


def test_a_thread_message_belongs_to_the_thread_under_its_parent_channel() -> None:
    inside = facts(
        place="thread", channel_id="900", parent_id="10", mentions_bot=False, content="more", thread_owner_id=str(BOT)
    )
    decided = plan(inside, bot_id=BOT, reply_mode="thread", chain_root=None)
    assert decided is not None and decided.delivery == "here"
    assert decided.message.thread == ThreadKey("discord", "1", "10", "900")
    assert channel_key(inside) == ChannelKey("discord", "1", "10")


def test_a_dm_is_its_own_conversation() -> None:
    dm = facts(place="dm", guild_id=None, channel_id="55", mentions_bot=False, content="hi")
    decided = plan(dm, bot_id=BOT, reply_mode="thread", chain_root=None)
    assert decided is not None and decided.message.is_dm
    assert decided.message.thread == ThreadKey("discord", "@dm", "55", "55")


def test_reply_mode_keys_by_the_chain_root() -> None:
    started = plan(facts(), bot_id=BOT, reply_mode="reply", chain_root=None)
    assert started is not None and started.delivery == "reply" and started.root == "900"
    follow = facts(message_id="905", mentions_bot=False, content="and?", reference_id="901")
    decided = plan(follow, bot_id=BOT, reply_mode="reply", chain_root="900")
    assert decided is not None and decided.root == "900"
    assert decided.message.thread == ThreadKey("discord", "1", "10", "900")


@pytest.mark.parametrize("word", ["reset", "Reset!", "/reset"])
def test_at_bot_reset_is_the_reset_command_in_a_conversation(word: str) -> None:
    inside = facts(place="thread", channel_id="900", parent_id="10", content=f"<@{BOT}> {word}")
    decided = plan(inside, bot_id=BOT, reply_mode="thread", chain_root=None)
    assert decided is not None and decided.message.text == "/reset"
    opening = plan(facts(content=f"<@{BOT}> reset"), bot_id=BOT, reply_mode="thread", chain_root=None)
    assert opening is not None and opening.message.text == "reset", "a new conversation has nothing to reset"


def test_thread_names() -> None:
    assert thread_name("\n  How do I rotate keys?\nmore") == "How do I rotate keys?"
    assert len(thread_name("x" * 500)) == 80
    assert thread_name("   ") == "parley"
