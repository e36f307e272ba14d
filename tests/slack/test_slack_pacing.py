"""A fast answer in Slack: posted as it is (no placeholder, no status), and the budgets a 429 slows down."""

from __future__ import annotations

import pytest
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import configure_client
from adapters.slack.config import SlackConfig
from adapters.slack.env import SlackEnv
from adapters.slack.pacing import SlackPaces
from bot.config import Config
from tests.slack.test_slack_assistant import thread_event
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import (
    BOT_TOKEN,
    CHANNEL,
    DM,
    Running,
    mention,
    message,
    new_ts,
    running,
    slack,
    slack_environ,
    until,
)

__all__ = ["running", "slack"]

REPLY_METHODS = ("chat.postMessage", "chat.update", "assistant.threads.setStatus")


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str, request: pytest.FixtureRequest) -> Config:
    # A grace far longer than the fake takes to answer: whatever the machine's speed, the answer comes within it
    # (a test that needs none parametrizes ``config`` with 0).
    grace = getattr(request, "param", 30)
    return make_config(
        fake.url, prefix, slack=SlackConfig(edit_interval=1.0, first_text_grace=grace, native_streaming=False)
    )


def calls(slack: FakeSlack) -> list[str]:
    return [call.method for call in slack.calls if call.method in REPLY_METHODS]


async def test_an_instant_answer_is_one_post_and_nothing_else(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("A quick answer, in a few chunks.", chunk_size=100))
    event = mention("quick one")
    await running.event(event)
    await until(lambda: any(m.text == "A quick answer, in a few chunks." for m in slack.thread(CHANNEL, event["ts"])))
    assert calls(slack) == ["chat.postMessage"], "no placeholder to post and update"
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.edits == ["A quick answer, in a few chunks."]


async def test_a_streamed_answer_that_ends_within_the_grace_is_one_post(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    answer = " ".join(f"word{i}" for i in range(40))
    fake.queue(Reply(answer, chunk_size=10, delay=0.01))
    event = mention("stream it")
    await running.event(event)
    await until(lambda: any(m.text == answer for m in slack.thread(CHANNEL, event["ts"])), what="the whole answer")
    assert calls(slack) == ["chat.postMessage"], "the whole answer came within the grace: posted once, complete"
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.edits == [answer]


@pytest.mark.parametrize("config", [0], indirect=True)  # no grace: the first text is posted as it comes
async def test_a_streamed_answer_ends_with_its_last_update_without_waiting(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    answer = " ".join(f"word{i}" for i in range(40))
    fake.queue(Reply(answer, chunk_size=10, delay=0.01))
    event = mention("stream it")
    await running.event(event)
    await until(lambda: any(m.text == answer for m in slack.thread(CHANNEL, event["ts"])), what="the whole answer")
    # The stream takes far less than edit_interval (1 s): the first text is posted, and the whole
    # answer is an update sent as the stream ends (before, it waited out the second).
    assert calls(slack) == ["chat.postMessage", "chat.update"]


async def test_the_assistant_view_shows_no_status_for_a_fast_answer(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    thread = new_ts()
    await running.event(thread_event("assistant_thread_started", thread, None))
    await until(lambda: bool(slack.calls_to("assistant.threads.setSuggestedPrompts")), what="suggested prompts")
    fake.queue(Reply("Right away."))
    await running.event(message("hello", channel=DM, thread_ts=thread))
    await until(lambda: any(m.text == "Right away." for m in slack.thread(DM, thread)), what="the answer")
    assert not slack.calls_to("assistant.threads.setStatus")


def rate_limited(method: str, channel: str, token: str, retry_after: str) -> tuple[HttpRequest, HttpResponse]:
    request = HttpRequest(
        method="POST",
        url=f"http://slack.test/api/{method}",
        headers={"Authorization": f"Bearer {token}"},
        body_params={"channel": channel, "text": "x"},
    )
    return request, HttpResponse(status_code=429, headers={"Retry-After": [retry_after]}, body={}, data=b"")


def test_a_429_slows_its_channel_and_for_chat_update_its_workspace() -> None:
    paces = SlackPaces(edit_interval=1.0, updates_per_minute=50)
    here, elsewhere = paces.for_reply("xoxb-a", "C1"), paces.for_reply("xoxb-a", "C2")
    other_workspace = paces.for_reply("xoxb-b", "C3")
    paces.rate_limited(*rate_limited("chat.postMessage", "C1", "xoxb-a", "30"))
    assert not here.try_take("post"), "the channel waits out the Retry-After"
    assert elsewhere.try_take("edit"), "another channel goes on"
    paces.rate_limited(*rate_limited("chat.update", "C2", "xoxb-a", "30"))
    assert not elsewhere.try_take("post")
    assert not paces.for_reply("xoxb-a", "C4").try_take("edit"), "chat.update waits in the whole workspace"
    assert paces.for_reply("xoxb-a", "C4").try_take("post"), "but a new message may be posted"
    assert other_workspace.try_take("edit"), "another workspace goes on"


def test_a_channels_replies_share_one_budget() -> None:
    paces = SlackPaces(edit_interval=1.0, updates_per_minute=50)
    first, second = paces.for_reply("xoxb-a", "C1"), paces.for_reply("xoxb-a", "C1")
    assert [first.try_take("post"), second.try_take("post"), first.try_take("post")] == [True, True, True]
    assert not second.try_take("post"), "three writes at once in one channel, then one per edit_interval"


async def test_a_429_on_a_replys_json_call_slows_the_channel_it_writes_in(slack: FakeSlack) -> None:
    """slack_sdk sends chat.postMessage and chat.update as JSON, which the retry handler's request does not
    carry: the channel is the one the reply writes in. The clock stands still, so no budget refills."""
    paces = SlackPaces(edit_interval=1.0, updates_per_minute=50, clock=lambda: 0.0)
    client = AsyncWebClient(token=BOT_TOKEN)
    configure_client(client, SlackEnv.read(slack_environ(slack)), paces)
    here, elsewhere = paces.for_reply(BOT_TOKEN, "C1"), paces.for_reply(BOT_TOKEN, "C2")  # a reply in each
    slack.rate_limit("chat.postMessage", retry_after=0)
    with paces.writing_in("C1"):
        await client.chat_postMessage(channel="C1", text="hello")
    assert len(slack.calls_to("chat.postMessage")) == 2, "answered 429, then retried"
    assert slack.calls_to("chat.postMessage")[0].params["channel"] == "C1"
    assert not here.try_take("post"), "the channel waits out the Retry-After"
    assert elsewhere.try_take("post"), "another channel goes on"
