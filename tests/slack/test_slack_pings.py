"""A model answer never notifies a whole channel: broadcast mentions reach Slack as text, on every post, edit
and native stream call (issue 10)."""

from __future__ import annotations

import re

import pytest

from adapters.slack.config import SlackConfig
from adapters.slack.mrkdwn import Mrkdwn, defuse
from bot.config import Config
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import CHANNEL, Running, mention, running, slack, until

__all__ = ["running", "slack"]

PINGS = "Hey <!channel> and <!here|here>, <!everyone>! Ask <!subteam^S0DEVS|@devs> or <!subteam^S0OPS>. "
ANSWER = PINGS + " ".join(f"word{i}" for i in range(40)) + " <!here>"
BROADCAST = re.compile(r"<!(?:channel|here|everyone|subteam\^)")
TEXTS = ("text", "markdown_text")


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, slack=SlackConfig(edit_interval=0.05, first_text_grace=0))


def sent(slack: FakeSlack) -> list[str]:
    """Every text parley sent Slack, in every call."""
    return [str(call.params[key]) for call in slack.calls for key in TEXTS if key in call.params]


def assert_no_ping(slack: FakeSlack, methods: set[str]) -> None:
    texts = sent(slack)
    assert texts and not [text for text in texts if BROADCAST.search(text)], texts
    assert methods <= {call.method for call in slack.calls}, "every way text reaches Slack was taken"


async def test_posts_and_edits_carry_no_broadcast_mention(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    fake.queue(Reply(ANSWER, chunk_size=3, delay=0.005))
    event = mention("ping everyone")
    await running.event(event)
    await until(lambda: any("word39" in m.text for m in slack.thread(CHANNEL, event["ts"])), what="the last edit")
    assert_no_ping(slack, {"chat.postMessage", "chat.update"})
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.text.startswith("Hey &lt;!channel&gt; and &lt;!here|here&gt;, &lt;!everyone&gt;!"), "shown as text"


async def test_a_native_stream_carries_no_broadcast_mention(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    slack.streaming = "on"
    fake.queue(Reply(ANSWER, chunk_size=3, delay=0.005))
    event = mention("ping everyone")
    await running.event(event)
    await until(lambda: bool(slack.calls_to("chat.stopStream")), what="the stream stopped")
    assert_no_ping(slack, {"chat.startStream", "chat.appendStream", "chat.stopStream"})
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.text == defuse(ANSWER), "streamed whole, split mentions too: each append added to the last"
    assert reply.text.replace("\u2060", "") == ANSWER, "it reads as the model wrote it"


async def test_the_plain_text_fallback_carries_no_broadcast_mention(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    fake.queue(Reply(PINGS, chunk_size=len(PINGS)))  # one post, no edit: the whole answer in plain text
    slack.fail("chat.postMessage", "msg_too_long")  # the plain text goes out instead of the mrkdwn
    event = mention("ping everyone")
    await running.event(event)
    await until(lambda: any("devs" in m.text for m in slack.thread(CHANNEL, event["ts"])), what="the reply")
    assert [call.params.get("mrkdwn") for call in slack.calls_to("chat.postMessage")][-1] in (False, "false", "0")
    assert_no_ping(slack, {"chat.postMessage"})


def test_every_broadcast_form_is_shown_as_text() -> None:
    assert Mrkdwn()(PINGS) == (
        "Hey &lt;!channel&gt; and &lt;!here|here&gt;, &lt;!everyone&gt;! "
        "Ask &lt;!subteam^S0DEVS|@devs&gt; or &lt;!subteam^S0OPS&gt;."
    )
    assert Mrkdwn()("<@U1> and <#C1> still link") == "<@U1> and <#C1> still link"
    for end in range(len(ANSWER) + 1):  # a stream appends: defusing a longer text keeps what it sent
        assert defuse(ANSWER).startswith(defuse(ANSWER[:end]))
