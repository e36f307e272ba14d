"""Slack's native streaming: start, append, stop; the fallback a workspace asks for; long and old streams."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackConfig
from adapters.slack.mrkdwn import Mrkdwn
from adapters.slack.sink import MAX_CHARS, SlackSink
from adapters.slack.streams import CALL_CHARS, LIFETIME, NativeStreaming, NativeStreams
from bot.api import SinkLimits
from bot.config import Config
from tests.core.test_streaming import FakeClock
from tests.slack.test_slack_assistant import thread_event
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import STREAM_CALL_CHARS, TEAM, FakeSlack
from tests.support.slack_harness import (
    BOT_TOKEN,
    CHANNEL,
    DM,
    USER,
    Running,
    mention,
    message,
    new_ts,
    running,
    slack,
    until,
)

__all__ = ["running", "slack"]

ANSWER = "Here is **the plan**:\n\n- first\n- second\n\n" + " ".join(f"word{i}" for i in range(80))


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str, request: pytest.FixtureRequest) -> Config:
    # No grace unless a test parametrizes ``config`` with one: a reply streams from its first text.
    grace = getattr(request, "param", 0)
    return make_config(fake.url, prefix, slack=SlackConfig(edit_interval=0.05, first_text_grace=grace))


def methods(slack: FakeSlack) -> list[str]:
    return [call.method for call in slack.calls if call.method.startswith("chat.")]


async def test_a_mention_is_answered_as_a_native_stream(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    slack.streaming = "on"
    fake.queue(Reply(ANSWER, chunk_size=12, delay=0.01))
    event = mention("plan it")
    await running.event(event)
    await until(lambda: bool(slack.calls_to("chat.stopStream")), what="the stream stopped")
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.text == ANSWER, "the Markdown itself: Slack renders it"
    assert not reply.streaming
    (start,) = slack.calls_to("chat.startStream")
    assert (start.params["recipient_user_id"], start.params["recipient_team_id"]) == (USER, TEAM)
    assert start.params["thread_ts"] == event["ts"]
    assert set(methods(slack)) == {"chat.startStream", "chat.appendStream", "chat.stopStream"}, "no post, no update"
    assert methods(slack)[-1] == "chat.stopStream"
    assert all(reply.text.startswith(shown) for shown in reply.edits), "each call adds to the text"


async def test_an_assistant_thread_streams_too(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    slack.streaming = "on"
    thread = new_ts()
    await running.event(thread_event("assistant_thread_started", thread, None))
    await until(lambda: bool(slack.calls_to("assistant.threads.setSuggestedPrompts")), what="suggested prompts")
    fake.queue(Reply("Streamed in the assistant view."))
    await running.event(message("hello", channel=DM, thread_ts=thread))
    await until(lambda: bool(slack.calls_to("chat.stopStream")), what="the stream stopped")
    assert [m.text for m in slack.thread(DM, thread)][-1] == "Streamed in the assistant view."
    assert not slack.calls_to("chat.update")


# A grace far longer than the fake takes to answer: whatever the machine's speed, the answer comes within it.
@pytest.mark.parametrize("config", [30], indirect=True)
async def test_an_answer_complete_within_the_grace_is_one_post_not_a_stream(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    slack.streaming = "on"
    fake.queue(Reply(ANSWER, chunk_size=12))
    event = mention("plan it")
    await running.event(event)
    await until(lambda: any(m.text for m in slack.thread(CHANNEL, event["ts"])), what="the answer")
    assert methods(slack) == ["chat.postMessage"], "no start, append and stop for an answer that is already whole"
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.edits == [Mrkdwn()(ANSWER)], "posted once, as mrkdwn"


@pytest.mark.parametrize("config", [30], indirect=True)
async def test_an_assistant_answer_complete_within_the_grace_is_one_post(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    slack.streaming = "on"
    thread = new_ts()
    await running.event(thread_event("assistant_thread_started", thread, None))
    await until(lambda: bool(slack.calls_to("assistant.threads.setSuggestedPrompts")), what="suggested prompts")
    fake.queue(Reply("Right away."))
    before = len(methods(slack))  # the greeting the thread started with
    await running.event(message("hello", channel=DM, thread_ts=thread))
    await until(lambda: any(m.text == "Right away." for m in slack.thread(DM, thread)), what="the answer")
    assert methods(slack)[before:] == ["chat.postMessage"]
    assert not slack.calls_to("assistant.threads.setStatus"), "no status for an answer that came at once"


@pytest.mark.parametrize("refusal", ["feature_not_enabled", "not_allowed", None])
async def test_a_workspace_that_does_not_stream_gets_posts_and_is_remembered(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, refusal: str | None
) -> None:
    slack.streaming = refusal  # None: chat.startStream answers unknown_method
    for n in range(2):
        fake.queue(Reply(f"answer {n}"))
        event = mention(f"question {n}")
        await running.event(event)
        want, ts = f"answer {n}", event["ts"]
        await until(lambda: any(m.text == want for m in slack.thread(CHANNEL, ts)), what="the posted answer")  # noqa: B023
    assert len(slack.calls_to("chat.startStream")) == 1, "asked once; the workspace's answer is remembered"
    assert len(slack.calls_to("chat.postMessage")) == 2


async def test_a_workspace_that_refuses_an_append_gets_posts_from_then_on(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    slack.streaming = "on"
    slack.fail("chat.appendStream", "not_allowed")
    for n in range(2):
        answer = f"answer {n}: " + " ".join(f"word{i}" for i in range(20))
        fake.queue(Reply(answer, chunk_size=8, delay=0.01))
        event = mention(f"question {n}")
        await running.event(event)
        ts = event["ts"]
        await until(lambda: any(m.text == answer for m in slack.thread(CHANNEL, ts)), what="the answer")  # noqa: B023
    assert len(slack.calls_to("chat.appendStream")) == 1, "refused once"
    assert len(slack.calls_to("chat.startStream")) == 1, "the refusal is remembered for the workspace"
    assert len(slack.calls_to("chat.postMessage")) == 1, "the second reply is posted and updated"


async def sink_on(slack: FakeSlack, clock: FakeClock) -> tuple[SlackSink, AsyncWebClient]:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    streams = NativeStreams(
        client, CHANNEL, "1700000000.000001", team=TEAM, recipient=USER, streaming=NativeStreaming(True), clock=clock
    )
    limits = SinkLimits(MAX_CHARS, 1.0, None)
    return SlackSink(client, CHANNEL, "1700000000.000001", limits=limits, mrkdwn=Mrkdwn(), streams=streams), client


async def test_a_stream_older_than_its_lifetime_is_finished_with_chat_update(slack: FakeSlack) -> None:
    slack.streaming = "on"
    clock = FakeClock()
    sink, _ = await sink_on(slack, clock)
    ts = await sink.post("Hello")
    await sink.edit(ts, "Hello **world**")
    clock.advance(LIFETIME + 1)
    await sink.edit(ts, "Hello **world**, and more")
    await sink.finished(ts)
    assert methods(slack) == ["chat.startStream", "chat.appendStream", "chat.update"]
    assert slack.messages[ts].text == "Hello *world*, and more", "updated as mrkdwn, as any edit"


async def test_a_stream_that_ended_before_its_last_text_gets_it_by_chat_update(slack: FakeSlack) -> None:
    slack.streaming = "on"
    clock = FakeClock()
    sink, _ = await sink_on(slack, clock)
    ts = await sink.post("Hello")
    slack.expire(ts)  # Slack ended it sooner than we thought
    await sink.edit(ts, "Hello world")
    await sink.finished(ts)
    assert slack.messages[ts].text == "Hello world"
    assert methods(slack)[-1] == "chat.update"


async def test_the_last_append_then_an_old_stream_is_updated_when_finished(slack: FakeSlack) -> None:
    slack.streaming = "on"
    clock = FakeClock()
    sink, _ = await sink_on(slack, clock)
    ts = await sink.post("Hello")
    await sink.edit(ts, "Hello world")
    clock.advance(LIFETIME + 1)
    await sink.finished(ts)
    assert methods(slack) == ["chat.startStream", "chat.appendStream", "chat.update"]
    assert slack.messages[ts].text == "Hello world"


async def test_no_call_carries_more_than_12000_characters(slack: FakeSlack) -> None:
    slack.streaming = "on"
    assert CALL_CHARS == STREAM_CALL_CHARS == 12_000
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    streams = NativeStreams(client, CHANNEL, "1700000000.000001", team=TEAM, recipient=USER,
                            streaming=NativeStreaming(True))  # fmt: skip
    text = "x" * 30_000
    ts = await streams.start(text)
    assert ts is not None
    assert await streams.extend(ts, text + "y" * 13_000)
    await streams.stop(ts)
    sizes = [len(call.params.get("markdown_text", "")) for call in slack.calls]
    assert max(sizes) <= 12_000 and len(sizes) == 6
    assert slack.messages[ts].text == text + "y" * 13_000


async def test_a_stream_left_by_a_dead_process_is_stopped_then_finished_by_chat_update(slack: FakeSlack) -> None:
    """A reclaimed reply: the new attempt edits the message an earlier process started streaming and never
    finished (it died). Slack still shows it streaming until it expires: it is stopped, then updated."""
    slack.streaming = "on"
    dead, _ = await sink_on(slack, FakeClock())
    ts = await dead.post("Answer about what-")
    sink, _ = await sink_on(slack, FakeClock())  # another process: it did not start this stream
    await sink.edit(ts, "Answer about **what** you asked")
    await sink.edit(ts, "Answer about **what** you asked, in full.")
    await sink.finished(ts)
    (reply,) = slack.thread(CHANNEL, "1700000000.000001")
    assert reply.ts == ts and not reply.streaming
    assert reply.text == "Answer about *what* you asked, in full."
    assert methods(slack) == ["chat.startStream", "chat.stopStream", "chat.update", "chat.update"]


async def test_a_posted_message_of_an_earlier_attempt_is_edited_in_place(slack: FakeSlack) -> None:
    slack.streaming = "on"
    dead, _ = await sink_on(slack, FakeClock())
    ts = await dead.post_complete("Answer about what-")
    sink, _ = await sink_on(slack, FakeClock())
    await sink.edit(ts, "Answer about what you asked.")
    await sink.finished(ts)
    assert [m.text for m in slack.thread(CHANNEL, "1700000000.000001")] == ["Answer about what you asked."]
    assert methods(slack) == ["chat.postMessage", "chat.stopStream", "chat.update"], "stopping it is refused, harmless"
