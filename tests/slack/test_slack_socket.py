"""The same flows over Socket Mode: FakeSlack's websocket sends envelopes, the adapter acks and answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from adapters.slack import create
from adapters.slack.config import SlackConfig
from bot.config import Config, ConfigError
from bot.conversation import Conversation
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import (
    ADMIN,
    APP_TOKEN,
    CHANNEL,
    DM,
    Running,
    envelope,
    mention,
    message,
    serve_slack,
    slack,
    slack_environ,
    slash_fields,
    until,
)

__all__ = ["slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(
        fake.url,
        prefix,
        admins=[f"slack:{ADMIN}"],
        slack=SlackConfig(edit_interval=0.05, first_text_grace=0, native_streaming=False),
    )


@pytest_asyncio.fixture
async def running(core: Conversation, slack: FakeSlack) -> AsyncIterator[Running]:
    async with serve_slack(core, slack, SLACK_APP_TOKEN=APP_TOKEN) as running:
        await slack.wait_connected()
        yield running


async def test_socket_mode_connects_with_the_app_token(running: Running, slack: FakeSlack) -> None:
    (opened,) = slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN


async def test_a_mention_over_socket_mode_gets_a_threaded_reply(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    event = mention("over the socket")
    ack = await slack.socket_event(envelope(event))
    assert set(ack) == {"envelope_id"}, "acknowledged"
    await until(lambda: any(m.text == "echo: over the socket" for m in slack.thread(CHANNEL, event["ts"])))
    await slack.socket_event(envelope(message("and a follow-up", thread_ts=event["ts"])))
    await until(lambda: any(m.text == "echo: and a follow-up" for m in slack.thread(CHANNEL, event["ts"])))
    assert [m["content"] for m in fake.requests[-1]["messages"][1:]] == [
        "over the socket",
        "echo: over the socket",
        "and a follow-up",
    ]


async def test_a_retry_attempt_is_answered_once(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    body = envelope(message("hello once", channel=DM), event_id="Ev0SOCKET")
    await slack.socket_event(body)
    await until(lambda: any(m.text == "echo: hello once" for m in slack.thread(DM, None)))
    await slack.socket_event(body, retry_attempt=1)
    await slack.socket_event(envelope(message("next", channel=DM)))
    await until(lambda: any(m.text == "echo: next" for m in slack.thread(DM, None)))
    assert [m.text for m in slack.thread(DM, None)] == ["echo: hello once", "echo: next"]
    assert len(fake.requests) == 2


async def test_socket_mode_reconnects_when_slack_refreshes_the_connection(running: Running, slack: FakeSlack) -> None:
    await slack.disconnect()
    await until(lambda: slack.connections >= 2, what="a new websocket")
    event = mention("still listening?")
    await slack.socket_event(envelope(event))
    await until(lambda: any(m.text == "echo: still listening?" for m in slack.thread(CHANNEL, event["ts"])))


async def test_parley_set_over_socket_mode(running: Running, slack: FakeSlack, store: Store) -> None:
    fields = slash_fields("set temperature 0.4", slack, user=ADMIN, channel=CHANNEL, team="T0TEST")
    ack = await slack.socket_event(fields, kind="slash_commands")
    assert ack["envelope_id"]
    await until(lambda: bool(slack.responses), what="the ephemeral answer")
    answer = {"text": "temperature is now 0.4 in slack:T0TEST/C0GENERAL.", "response_type": "ephemeral"}
    assert slack.responses[0] == answer
    assert await store.overrides(ChannelKey("slack", "T0TEST", CHANNEL)) == {"temperature": 0.4}


async def test_without_a_signing_secret_no_http_event_is_taken(core: Conversation, slack: FakeSlack) -> None:
    async with serve_slack(core, slack, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="") as running:
        await slack.wait_connected()
        status, _ = await running.event(mention("forged with an empty secret"), secret="")
        assert status == 404, "Socket Mode alone: /slack/events is not served"
        event = mention("through the socket")
        await slack.socket_event(envelope(event))
        await until(lambda: any(m.text == "echo: through the socket" for m in slack.thread(CHANNEL, event["ts"])))
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_refused_tokens_are_configuration_errors(core: Conversation, slack: FakeSlack) -> None:
    slack.fail("auth.test", "invalid_auth")
    adapter = create(core, slack_environ(slack))
    with pytest.raises(ConfigError, match=r"Slack refused SLACK_BOT_TOKEN \(invalid_auth\)"):
        await adapter.run()
    adapter = create(core, slack_environ(slack, SLACK_APP_TOKEN="xapp-not-really"))
    slack.fail("apps.connections.open", "invalid_auth")
    with pytest.raises(ConfigError, match=r"Slack refused SLACK_APP_TOKEN \(invalid_auth\)"):
        await adapter.run()
