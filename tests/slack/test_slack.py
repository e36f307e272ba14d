"""The Slack adapter over HTTP: signed Events API requests to parley's own endpoint, FakeSlack, the core."""

from __future__ import annotations

import asyncio
import json

import pytest

from adapters.slack.config import SlackConfig
from bot.channels import Channels
from bot.config import Config
from bot.conversation import Conversation
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply
from tests.support.fake_slack import BOT_ID, BOT_USER, TEAM, FakeSlack
from tests.support.slack_harness import CHANNEL, DM, Running, mention, message, running, slack, until

__all__ = ["running", "slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(
        fake.url,
        prefix,
        admins=["slack:U0ADMIN"],
        slack=SlackConfig(edit_interval=0.05, first_text_grace=0, native_streaming=False),
    )


def finished(slack: FakeSlack, channel: str, thread_ts: str | None, text: str) -> bool:
    return any(m.text == text for m in slack.thread(channel, thread_ts))


async def test_a_mention_gets_a_threaded_streamed_reply(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    answer = " ".join(f"word{i}" for i in range(60))
    fake.queue(Reply(answer, chunk_size=8, delay=0.02))
    event = mention("hello   there")
    status, _ = await running.event(event)
    assert status == 200
    await until(lambda: finished(slack, CHANNEL, event["ts"], answer), what="the complete reply")
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.edits[0] == "_thinking…_", "a placeholder first"
    assert len(reply.edits) >= 3, "then streamed updates"
    assert all(answer.startswith(edit) for edit in reply.edits[1:]), "each update shows more of the reply"
    assert not slack.thread(CHANNEL, None), "nothing in the channel itself"
    assert fake.requests[0]["messages"][-1] == {"role": "user", "content": "hello there"}, "the mention is stripped"


async def test_one_message_as_mention_and_message_events_is_answered_once(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    first = mention("start")
    await running.event(first)
    await running.event({**first, "type": "message", "channel_type": "channel"})  # a top-level mention comes twice too
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: start"))
    follow = message(f"<@{BOT_USER}> and more", thread_ts=first["ts"])
    await running.event(follow)
    await running.event({**follow, "type": "app_mention", "channel_type": None})
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: and more"))
    last = message("last one", thread_ts=first["ts"])
    await running.event(last)
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: last one"))
    assert [m.text for m in slack.thread(CHANNEL, first["ts"])] == ["echo: start", "echo: and more", "echo: last one"]
    assert len(fake.requests) == 3


async def test_a_follow_up_in_the_thread_sees_the_history(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    first = mention("My name is Ada.")
    await running.event(first)
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: My name is Ada."))
    await running.event(message("What is my name?", thread_ts=first["ts"]))
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: What is my name?"))
    contents = [m["content"] for m in fake.requests[-1]["messages"][1:]]
    assert contents == ["My name is Ada.", "echo: My name is Ada.", "What is my name?"]


async def test_other_users_are_named_not_raw_ids(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    slack.users["U0ALICE"] = {"id": "U0ALICE", "name": "alice", "profile": {"display_name": "Alice"}}
    event = mention("ask <@U0ALICE> and <@U0GHOST> in <#C0OPS|ops> about <https://x.test/a|the doc> &amp; more")
    await running.event(event)
    await until(lambda: bool(fake.requests))
    rendered = "ask @Alice and @U0GHOST in #ops about the doc (https://x.test/a) & more"
    assert fake.requests[0]["messages"][-1]["content"] == rendered
    again = mention("and <@U0ALICE> again")
    await running.event(again)
    await until(lambda: len(fake.requests) == 2)
    assert fake.requests[1]["messages"][-1]["content"] == "and @Alice again"
    await running.event(message("chatter about <@U0CAROL>, not for parley"))
    last = mention("done")
    await running.event(last)
    await until(lambda: finished(slack, CHANNEL, last["ts"], "echo: done"))
    looked_up = sorted(call.params["user"] for call in slack.calls_to("users.info"))
    assert looked_up == ["U0ALICE", "U0GHOST"], "a name is looked up once, then kept; never for chatter"


async def test_each_event_looks_each_mentioned_user_up_once(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    slack.users["U0BOB"] = {"id": "U0BOB", "name": "bob", "profile": {"display_name": "Bob"}}
    first = mention("<@U0BOB>, <@U0GHOST> and <@U0BOB> again")
    await running.event(first)
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: @Bob, @U0GHOST and @Bob again"))
    looked_up = sorted(call.params["user"] for call in slack.calls_to("users.info"))
    assert looked_up == ["U0BOB", "U0GHOST"], "one look-up per user the event mentions, however often"
    await running.event(message("edited: <@U0CAROL>", thread_ts=first["ts"], subtype="message_changed"))
    await running.event(message("<@U0GHOST> and <@U0BOB>?", thread_ts=first["ts"]))
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: @U0GHOST and @Bob?"))
    looked_up = sorted(call.params["user"] for call in slack.calls_to("users.info"))
    assert looked_up == ["U0BOB", "U0GHOST", "U0GHOST"], "a user not found is asked again, once; none for an edit"


async def test_events_are_acknowledged_before_the_model_answers(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("slow and steady", chunk_size=5, delay=1.5))
    event = mention("take your time")
    status, _ = await running.event(event)
    assert status == 200
    assert not finished(slack, CHANNEL, event["ts"], "slow and steady"), "the ack did not wait for the model"
    await until(lambda: finished(slack, CHANNEL, event["ts"], "slow and steady"))


async def test_dms_are_answered_without_a_mention(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    await running.event(message("remember 42", channel=DM))
    await until(lambda: finished(slack, DM, None, "echo: remember 42"), what="a top-level answer in the DM")
    await running.event(message("what number?", channel=DM))
    await until(lambda: finished(slack, DM, None, "echo: what number?"))
    assert [m["content"] for m in fake.requests[-1]["messages"][1:3]] == ["remember 42", "echo: remember 42"]
    thread = message("a thread of its own", channel=DM)
    await running.event(message("in the thread", channel=DM, thread_ts=thread["ts"]))
    await until(lambda: finished(slack, DM, thread["ts"], "echo: in the thread"), what="the answer in the DM's thread")
    assert [m["content"] for m in fake.requests[-1]["messages"][1:]] == ["in the thread"], "a DM thread starts afresh"


async def test_a_retried_event_is_answered_once(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    event = mention("only once")
    await running.event(event, event_id="Ev0RETRY")
    await until(lambda: finished(slack, CHANNEL, event["ts"], "echo: only once"))
    status, _ = await running.event(event, event_id="Ev0RETRY", retry=1)
    assert status == 200, "a redelivery is acknowledged"
    await running.event(message("next", thread_ts=event["ts"]))
    await until(lambda: finished(slack, CHANNEL, event["ts"], "echo: next"))
    assert [m.text for m in slack.thread(CHANNEL, event["ts"])] == ["echo: only once", "echo: next"]
    assert len(fake.requests) == 2


async def test_bad_signature_and_stale_timestamp_are_refused(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    assert (await running.event(mention("forged"), secret="wrong-secret"))[0] == 401
    assert (await running.event(mention("old"), timestamp=1_600_000_000))[0] == 401
    assert (await running.post("/slack/events", json.dumps({"type": "event_callback"}), {}))[0] == 401
    event = mention("genuine")
    await running.event(event)
    await until(lambda: finished(slack, CHANNEL, event["ts"], "echo: genuine"))
    assert [r["messages"][-1]["content"] for r in fake.requests] == ["genuine"], "nothing forged reached the model"
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_malformed_body_gets_4xx_and_the_server_keeps_serving(running: Running, slack: FakeSlack) -> None:
    status, text = await running.raw('{"type": "event_callback", "event": ')
    assert status == 400 and "malformed" in text
    status, _ = await running.raw("{not json", secret="wrong")
    assert status == 401
    for body in ("[1, 2]", '"text"', "null"):  # JSON, but not an object
        assert (await running.raw(body))[0] == 400
        assert (await running.raw(body, secret="wrong"))[0] == 401, "unsigned: refused, no traceback"
    status, text = await running.raw(json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"}))
    assert (status, json.loads(text)) == (200, {"challenge": "abc123"})
    event = mention("still there?")
    await running.event(event)
    await until(lambda: finished(slack, CHANNEL, event["ts"], "echo: still there?"))


async def test_bots_own_edited_and_hidden_messages_are_ignored(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    first = mention("hello")
    await running.event(first)
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: hello"))
    thread = first["ts"]
    ignored = [
        message("from another bot", thread_ts=thread, user=None, bot_id="B0OTHER", subtype="bot_message"),
        message("a bot without subtype", thread_ts=thread, user="U0OTHERBOT", bot_id="B0OTHER"),
        message("parley's own words", thread_ts=thread, user=BOT_USER, bot_id=BOT_ID),
        message("", thread_ts=thread, subtype="message_changed", hidden=True, message={"text": "edited", "ts": thread}),
        message("", thread_ts=thread, subtype="message_deleted", hidden=True),
        message("joined", thread_ts=thread, subtype="channel_join"),
        message("   ", thread_ts=thread),
        message("a channel message not for parley"),
    ]
    for event in ignored:
        assert (await running.event(event))[0] == 200
    await running.event(message("and this one?", thread_ts=thread))
    await until(lambda: finished(slack, CHANNEL, thread, "echo: and this one?"))
    assert [m.text for m in slack.thread(CHANNEL, thread)] == ["echo: hello", "echo: and this one?"]
    assert [r["messages"][-1]["content"] for r in fake.requests] == ["hello", "and this one?"]
    assert not slack.thread(CHANNEL, None)


async def test_reset_in_a_thread_forgets_its_history(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    first = mention("remember 7")
    await running.event(first)
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: remember 7"))
    await running.event(mention("reset", thread_ts=first["ts"]))
    await until(lambda: any("forgotten" in m.text for m in slack.thread(CHANNEL, first["ts"])))
    await running.event(mention("what number?", thread_ts=first["ts"]))
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: what number?"))
    assert [m["content"] for m in fake.requests[-1]["messages"][1:]] == ["what number?"]


async def test_a_failed_turn_is_told_and_the_adapter_keeps_serving(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    fake.queue(HTTPError(500), HTTPError(500), HTTPError(500))
    first = mention("fail please")
    await running.event(first)
    await until(lambda: any("unavailable" in m.text for m in slack.thread(CHANNEL, first["ts"])))
    second = mention("and now?")
    await running.event(second)
    await until(lambda: finished(slack, CHANNEL, second["ts"], "echo: and now?"))


async def test_settings_follow_the_team(running: Running, slack: FakeSlack, core: Conversation, store: Store) -> None:
    await Channels(core.config, store).set(ThreadKey("slack", TEAM, CHANNEL, "x").channel_key, "enabled", "false")
    quiet = mention("anyone?")
    await running.event(quiet)
    other = mention("here?", channel="C0OTHER")
    await running.event(other)
    await until(lambda: finished(slack, "C0OTHER", other["ts"], "echo: here?"))
    assert not slack.thread(CHANNEL, quiet["ts"]), "disabled in that team's channel only"


async def test_stopping_finishes_the_replies_in_flight(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, store: Store
) -> None:
    answer = "a slow but complete answer"
    fake.queue(Reply(answer, chunk_size=4, delay=0.2))
    event = mention("take your time")
    await running.event(event)
    await until(lambda: bool(slack.thread(CHANNEL, event["ts"])), what="the placeholder: the reply is under way")
    stopping = asyncio.create_task(running.stop())
    verification = json.dumps({"type": "url_verification", "challenge": "c", "token": "t"})
    for _ in range(500):
        status, _ = await running.raw(verification)
        if status == 503:
            break
        await asyncio.sleep(0.01)
    assert status == 503, "while stopping, new events are refused so that Slack delivers them again later"
    await stopping
    assert finished(slack, CHANNEL, event["ts"], answer), "the reply under way was finished"
    assert await store.has_history(ThreadKey("slack", TEAM, CHANNEL, event["ts"])), "and remembered"


async def test_with_trigger_mention_only_mentions_are_answered_in_a_thread(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, core: Conversation, store: Store
) -> None:
    await Channels(core.config, store).set(ThreadKey("slack", TEAM, CHANNEL, "x").channel_key, "trigger", "mention")
    first = mention("hello")
    await running.event(first)
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: hello"))
    await running.event(message("not for you", thread_ts=first["ts"]))
    await running.event(mention("for you", thread_ts=first["ts"]))
    await until(lambda: finished(slack, CHANNEL, first["ts"], "echo: for you"))
    assert [m.text for m in slack.thread(CHANNEL, first["ts"])] == ["echo: hello", "echo: for you"]
    assert len(fake.requests) == 2, "the message that did not mention parley was not answered"
    assert [m["content"] for m in fake.requests[-1]["messages"][1:]] == [
        "hello",
        "echo: hello",
        "someone: not for you",  # issue 12: kept as the thread's context, attributed (no name known for U0USER)
        "for you",
    ]
