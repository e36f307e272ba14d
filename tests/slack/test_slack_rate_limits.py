"""A Slack user over the request rate limit gets the core's notice in the thread, and the model is not called."""

from __future__ import annotations

import pytest

from adapters.slack.config import SlackConfig
from bot.config import Config
from bot.rate_limits import RateLimitsConfig
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import CHANNEL, Running, mention, running, slack, until

__all__ = ["running", "slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(
        fake.url,
        prefix,
        slack=SlackConfig(first_text_grace=30, native_streaming=False),
        rate_limits=RateLimitsConfig(user_per_minute=1),
    )


async def test_a_second_mention_within_the_minute_is_told_to_wait(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("The first answer."))
    first = mention("first question")
    await running.event(first)
    await until(lambda: any(m.text == "The first answer." for m in slack.thread(CHANNEL, first["ts"])))
    second = mention("second question")
    await running.event(second)
    await until(lambda: bool(slack.thread(CHANNEL, second["ts"])), what="the notice")
    (notice,) = slack.thread(CHANNEL, second["ts"])
    assert notice.text.startswith("You are sending messages faster than parley answers them (1 a minute).")
    assert "Please try again in " in notice.text
    assert len(fake.requests) == 1, "the model is not called"

    command = mention("/show")
    await running.event(command)
    await until(lambda: bool(slack.thread(CHANNEL, command["ts"])), what="the command's answer")
    assert slack.thread(CHANNEL, command["ts"])[0].text.startswith("Settings for"), "commands are not limited"
