"""One kept-alive session for every Slack Web API call, of every workspace (no new connection per call)."""

from __future__ import annotations

import pytest

from adapters.slack.config import SlackConfig
from bot.config import Config
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import CHANNEL, Running, mention, running, slack, until

__all__ = ["running", "slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, slack=SlackConfig(edit_interval=0.05))


async def test_web_api_calls_share_one_kept_alive_connection(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    for n in range(3):
        fake.queue(Reply(f"answer {n}"))
        event = mention(f"question {n}", ts=f"1700000100.00000{n}")
        await running.event(event)
        want, ts = f"answer {n}", event["ts"]
        await until(lambda: any(m.text == want for m in slack.thread(CHANNEL, ts)), what="a reply")  # noqa: B023
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 3
    # Two auth.test calls may overlap at start-up (parley's token check and Bolt's own): two connections
    # at most, kept alive and used again by every later call (without a shared session: one per call).
    assert len({call.peer for call in slack.calls}) <= 2
    assert {call.peer for call in slack.calls[2:]} <= {call.peer for call in slack.calls[:2]}


def test_the_pool_is_sized_for_2000_streams() -> None:
    assert SlackConfig().max_connections == 2000
