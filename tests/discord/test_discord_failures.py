"""What a Discord user sees when things go wrong: odd model output, Discord refusing a call, deleted messages."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.config import Config
from bot.conversation import Conversation
from bot.notices import FAILURES, SOMETHING_BROKE
from bot.store import Store
from tests.support.discord_harness import bot, discord_config, discord_fake, running
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import Drop, FakeOpenAI, Reply
from tests.support.net import free_port

__all__ = ["bot", "discord_config", "discord_fake"]


async def ask(discord_fake: FakeDiscord, text: str) -> str:
    return await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} {text}")


async def still_serving(discord_fake: FakeDiscord) -> None:
    mid = await ask(discord_fake, "still there?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: still there?"], what="the next answer")


async def test_whitespace_only_output_is_reported_as_empty(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.queue(Reply(" \n\n \t \n", chunk_size=2))
    mid = await ask(discord_fake, "say nothing")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [FAILURES["empty"]])
    await still_serving(discord_fake)


async def test_output_that_is_only_a_code_fence_is_sent_as_it_is(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("```python\n```", chunk_size=3))
    mid = await ask(discord_fake, "empty block")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["```python\n```"])


async def test_one_long_line_without_spaces_is_cut_into_messages_that_lose_nothing(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    answer = "".join(chr(ord("a") + n % 26) for n in range(4500))
    fake.queue(Reply(answer, chunk_size=97))
    mid = await ask(discord_fake, "one line")
    await discord_fake.wait_for(lambda: "".join(discord_fake.bot_texts(mid)) == answer, what="the whole line")
    assert all(len(text) <= 2000 for text in discord_fake.bot_texts(mid))


async def test_a_backend_failure_mid_stream_keeps_the_partial_text_and_says_so(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.queue(Drop(text_before="The first half of the answer "))
    mid = await ask(discord_fake, "go")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 2, what="the partial text and the notice")
    first, notice = discord_fake.bot_texts(mid)
    assert first.startswith("The first half")
    assert notice == FAILURES["interrupted"]
    await still_serving(discord_fake)


async def test_an_edited_message_gets_no_answer(bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI) -> None:
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, "no mention yet")
    await discord_fake.user_edit(mid, f"{discord_fake.mention} now with a mention")
    await still_serving(discord_fake)
    assert [r["messages"][-1]["content"] for r in fake.requests] == ["still there?"]
    assert discord_fake.thread_of(mid) is None
    assert fake.requests[0]["messages"][-1]["content"] == "still there?", "the model was not asked in vain"


async def test_a_question_deleted_before_the_answer_gets_no_stray_message(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    mid = await ask(discord_fake, "never mind")
    await discord_fake.delete(mid)  # before the bot opens its thread: Discord answers 404 Unknown Message
    await discord_fake.wait_for(lambda: any(r.path.endswith(f"{mid}/threads") for r in discord_fake.requests))
    await still_serving(discord_fake)
    assert discord_fake.bot_texts(discord_fake.general) == [], "no apology in the channel for a deleted question"
    assert discord_fake.thread_of(mid) is None
    assert fake.requests[0]["messages"][-1]["content"] == "still there?", "the model was not asked in vain"


async def test_without_permission_to_send_nothing_is_lost_and_the_bot_keeps_serving(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    discord_fake.refuse_threads = True
    for _ in range(2):  # the answer, then the apology: both refused
        discord_fake.fail("POST", f"/channels/{discord_fake.general}/messages", 403, 50013, "Missing Permissions")
    await ask(discord_fake, "can you speak?")
    await discord_fake.wait_for(lambda: not discord_fake.faults, what="the refused sends")
    discord_fake.refuse_threads = False
    await still_serving(discord_fake)


async def test_a_reply_deleted_while_it_streams_stays_deleted_and_is_remembered(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    answer = "streaming slowly " * 30
    fake.queue(Reply(answer, chunk_size=5, delay=0.02))
    mid = await ask(discord_fake, "go")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1)
    deleted = discord_fake.bot_messages(mid)[0].id
    await discord_fake.delete(deleted)  # a moderator removes it

    await discord_fake.user_message(mid, discord_fake.alice, "what did you say?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: what did you say?"])
    assert [r["messages"][-2]["content"] for r in fake.requests[1:]] == [answer], "the turn was kept"
    refused = [r for r in discord_fake.edits() if r.path.endswith(deleted) and r.status == 404]
    assert len(refused) == 1, "a deleted message is not edited again and again"


async def test_a_thread_locked_while_the_reply_streams_does_not_stop_the_bot(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("streaming slowly " * 30, chunk_size=5, delay=0.02))
    mid = await ask(discord_fake, "go")
    await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1)
    discord_fake.fail("PATCH", rf"/channels/{mid}/messages/\d+", 400, 50083, "Thread is archived")
    discord_fake.fail("POST", f"/channels/{mid}/messages", 400, 50083, "Thread is archived")
    await discord_fake.wait_for(lambda: not discord_fake.faults, what="the refused edit and notice")
    await still_serving(discord_fake)
    assert discord_fake.bot_texts(discord_fake.general) == [], "nothing spills into the parent channel"


async def test_with_redis_down_a_command_a_dm_and_a_mention_get_an_apology(
    discord_config: Config, prefix: str, discord_fake: FakeDiscord
) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        async with running(discord_config, Store(dead, prefix), discord_fake):
            interaction = await discord_fake.slash(discord_fake.general, discord_fake.alice, "show")
            await discord_fake.wait_for(lambda: len(discord_fake.interaction_answers[interaction]) == 1)
            (answer,) = discord_fake.interaction_answers[interaction]
            assert answer["data"]["content"] == SOMETHING_BROKE and answer["data"]["flags"] & (1 << 6)
            dm = discord_fake.open_dm(discord_fake.bob)
            await discord_fake.user_message(dm, discord_fake.bob, "hello?")
            await discord_fake.wait_for(lambda: discord_fake.bot_texts(dm) == [SOMETHING_BROKE])
            general = discord_fake.general
            await discord_fake.user_message(general, discord_fake.bob, "chatter: not for the bot")
            mid = await discord_fake.user_message(general, discord_fake.bob, f"{discord_fake.mention} hello?")
            await discord_fake.wait_for(lambda: discord_fake.bot_texts(general) == [SOMETHING_BROKE])
            (apology,) = discord_fake.bot_messages(general)
            assert apology.payload["message_reference"]["message_id"] == mid and apology.pinged == set()
    finally:
        await dead.aclose()
