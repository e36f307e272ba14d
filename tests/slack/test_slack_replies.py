"""How replies look in Slack: mrkdwn, long replies split, 429 and msg_too_long survived."""

from __future__ import annotations

import html

import pytest

from adapters.slack.config import SlackConfig
from bot.config import Config, QueueConfig
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import TEAM, FakeSlack
from tests.support.slack_harness import CHANNEL, Running, mention, running, slack, until

__all__ = ["running", "slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    slack = SlackConfig(edit_interval=0.05, first_text_grace=0, native_streaming=False)
    return make_config(fake.url, prefix, slack=slack, queue=QueueConfig(reclaim_after=0.5, max_attempts=2))


MARKDOWN = """# Plan
**Bold** and *italic* and ~~gone~~, see [the docs](https://docs.test/x).

- first
- second

```python
# a comment, not a heading
x = **kwargs
```"""

MRKDWN = """*Plan*
*Bold* and _italic_ and ~gone~, see <https://docs.test/x|the docs>.

• first
• second

```
# a comment, not a heading
x = **kwargs
```"""


async def test_markdown_is_shown_as_mrkdwn(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    fake.queue(Reply(MARKDOWN))
    event = mention("format something")
    await running.event(event)
    await until(lambda: any(m.text == MRKDWN for m in slack.thread(CHANNEL, event["ts"])), what="the mrkdwn reply")
    await until(lambda: bool(fake.requests))


async def test_a_long_reply_continues_in_more_messages(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    paragraphs = [f"Paragraph {i}: " + " ".join(f"word{i}-{j}" for j in range(60)) for i in range(20)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) > 3 * 3500
    fake.queue(Reply(answer, chunk_size=200))
    event = mention("write a lot")
    await running.event(event)

    def complete() -> bool:
        texts = [m.text for m in slack.thread(CHANNEL, event["ts"])]
        return bool(texts) and texts[-1].endswith(paragraphs[-1])

    await until(complete, what="the last part of the reply")
    messages = slack.thread(CHANNEL, event["ts"])
    assert len(messages) >= 4
    assert all(len(m.text) <= 3500 for m in messages), "every message within Slack's practical limit"
    assert all(len(edit) <= 3500 for m in messages for edit in m.edits)
    assert "\n\n".join(m.text.strip() for m in messages) == answer, "nothing lost, nothing repeated"


async def test_429_is_retried_after_retry_after(running: Running, slack: FakeSlack) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1)
    event = mention("busy?")
    await running.event(event)
    await until(lambda: any(m.text == "echo: busy?" for m in slack.thread(CHANNEL, event["ts"])))
    first, second = slack.calls_to("chat.postMessage")[:2]
    assert second.at - first.at >= 0.9, "the retry waited for Retry-After"
    assert len(slack.thread(CHANNEL, event["ts"])) == 1, "one message, not a duplicate"


async def test_msg_too_long_falls_back_to_plain_text(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    fake.queue(Reply("**short** answer"))
    slack.fail("chat.update", "msg_too_long")
    event = mention("anything")
    await running.event(event)
    await until(lambda: any("answer" in m.text for m in slack.thread(CHANNEL, event["ts"])))
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.text == "**short** answer", "Slack refused the mrkdwn: the Markdown itself is shown"
    (refused,) = [call for call in slack.calls_to("chat.update") if call.params["text"] == "*short* answer"]
    assert refused.params["ts"] == reply.ts


async def test_a_reply_whose_message_was_deleted_goes_on_in_a_new_one(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, store: Store
) -> None:
    answer = " ".join(f"word{i}" for i in range(40))
    fake.queue(Reply(answer, chunk_size=6, delay=0.05))
    event = mention("go on")
    await running.event(event)
    await until(lambda: bool(slack.thread(CHANNEL, event["ts"])), what="the placeholder")
    slack.delete(slack.thread(CHANNEL, event["ts"])[0].ts)
    await until(lambda: any(m.text == answer for m in slack.thread(CHANNEL, event["ts"])), what="the whole reply")
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert len(reply.edits) >= 2, "one new message, edited on as the reply streams (not a message per edit)"
    assert not any("went wrong" in m.text for m in slack.messages.values())
    thread = ThreadKey("slack", TEAM, CHANNEL, event["ts"])
    await until(lambda: store.has_history(thread), what="the turn remembered (stored after its last edit)")


async def test_the_limit_holds_for_the_mrkdwn_sent_not_the_markdown(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    paragraphs = [f"Step {i}: " + " ".join(f"if a{j} && b <c{j}>" for j in range(30)) for i in range(10)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) < 2 * 3500 < len(answer.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    fake.queue(Reply(answer, chunk_size=150))
    event = mention("escape a lot")
    await running.event(event)

    def complete() -> bool:
        texts = [m.text for m in slack.thread(CHANNEL, event["ts"])]
        return bool(texts) and html.unescape(texts[-1]).endswith(paragraphs[-1])

    await until(complete, what="the last part of the reply")
    messages = slack.thread(CHANNEL, event["ts"])
    assert len(messages) >= 3, "the escaped text needs more messages than the Markdown would"
    assert all(len(edit) <= 3500 for m in messages for edit in m.edits), "every text sent within the limit"
    assert not any("mrkdwn" in c.params for c in slack.calls), "Slack never refused one: no plain-text fallback"
    assert html.unescape("\n\n".join(m.text for m in messages)) == answer, "nothing lost, nothing repeated"


async def test_a_slack_5xx_is_retried_and_a_lasting_one_leaves_the_app_serving(
    running: Running, slack: FakeSlack
) -> None:
    slack.server_error("chat.postMessage", status=503)
    event = mention("flaky?")
    await running.event(event)
    await until(lambda: any(m.text == "echo: flaky?" for m in slack.thread(CHANNEL, event["ts"])))
    assert len(slack.thread(CHANNEL, event["ts"])) == 1, "retried once, posted once"
    slack.server_error("chat.postMessage", status=500, times=9)
    down = mention("down?")
    await running.event(down)
    # The reply tried (three calls each time) twice, as max_attempts says, then the notice that it failed.
    await until(lambda: len(slack.calls_to("chat.postMessage")) >= 2 + 9, what="reply and apology tried")
    later = mention("back?")
    await running.event(later)
    await until(lambda: any(m.text == "echo: back?" for m in slack.thread(CHANNEL, later["ts"])))
    assert not slack.thread(CHANNEL, down["ts"]), "Slack was down for that one"
