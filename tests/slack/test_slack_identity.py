"""Bot identity (auth.test) is asked once per workspace, not once per event."""

from __future__ import annotations

import asyncio

import pytest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackConfig
from adapters.slack.identity import OneBotToken
from bot.config import Config
from bot.conversation import Conversation
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import BOT_ID, BOT_USER, FakeSlack
from tests.support.slack_harness import BOT_TOKEN, CHANNEL, mention, message, serve_slack, slack, until

__all__ = ["slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, slack=SlackConfig(edit_interval=0.05, native_streaming=False))


async def test_300_events_right_after_start_up_make_one_auth_test_call(core: Conversation, slack: FakeSlack) -> None:
    async with serve_slack(core, slack) as running:
        chatter = [running.event(message(f"chatter {n}", channel=f"C0CHAN{n % 7}")) for n in range(299)]
        first = mention("and one for parley")
        statuses = await asyncio.gather(*chatter, running.event(first))
        assert {status for status, _ in statuses} == {200}
        await until(lambda: any(m.text == "echo: and one for parley" for m in slack.thread(CHANNEL, first["ts"])))
        later = mention("later")
        await running.event(later)
        await until(lambda: any(m.text == "echo: later" for m in slack.thread(CHANNEL, later["ts"])))
    assert len(slack.calls_to("auth.test")) == 1, "parley's start-up check, shared by every event since"


async def test_a_failed_look_up_is_asked_again_and_an_old_answer_renewed(slack: FakeSlack) -> None:
    now = [0.0]
    identities = OneBotToken(BOT_TOKEN, keep_seconds=60, clock=lambda: now[0])
    client = AsyncWebClient(base_url=slack.api_url)
    slack.fail("auth.test", "ratelimited")
    with pytest.raises(SlackApiError):
        await identities.sign_in(client)
    context = AsyncBoltContext(client=client)
    results = await asyncio.gather(*(identities(context=context, enterprise_id=None, team_id=None, user_id=None)
                                     for _ in range(20)))  # fmt: skip
    assert all(isinstance(r, AuthorizeResult) and (r.bot_user_id, r.bot_id) == (BOT_USER, BOT_ID) for r in results)
    assert all(r is not None and r.bot_token == BOT_TOKEN for r in results)
    assert len(slack.calls_to("auth.test")) == 2, "the failure, then one call for the 20 events at once"
    now[0] = 61.0
    await identities.sign_in(client)
    assert len(slack.calls_to("auth.test")) == 3, "kept a minute, then asked again"
