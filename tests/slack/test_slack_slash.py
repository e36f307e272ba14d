"""/parley: the settings panel, answered ephemerally; only admins change anything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from adapters.slack.config import SlackConfig
from bot.config import Config
from bot.conversation import Conversation
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import TEAM, FakeSlack
from tests.support.slack_harness import ADMIN, CHANNEL, USER, Running, mention, serve_slack, until

HERE = ChannelKey("slack", TEAM, CHANNEL)


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    slack = SlackConfig(workspace_admins_are_admins=True)
    return make_config(fake.url, prefix, admins=[f"slack:{ADMIN}"], slack=slack)


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.users[USER] = {"id": USER, "name": "user", "is_admin": False}
        server.users["U0OWNER"] = {"id": "U0OWNER", "name": "owner", "is_admin": False, "is_owner": True}
        yield server


@pytest_asyncio.fixture
async def running(core: Conversation, slack: FakeSlack) -> AsyncIterator[Running]:
    async with serve_slack(core, slack) as running:
        yield running


async def test_an_admin_sets_and_unsets_a_setting(running: Running, store: Store) -> None:
    answer = await running.answer_to("set temperature 0.3", user=ADMIN)
    assert answer == f"temperature is now 0.3 in slack:{TEAM}/{CHANNEL}."
    assert await store.overrides(HERE) == {"temperature": 0.3}
    shown = await running.answer_to("show")
    assert shown.startswith("```\n") and "temperature" in shown and "0.3" in shown and "override" in shown
    answer = await running.answer_to("unset temperature", user=ADMIN)
    assert answer.startswith("Override of temperature removed")
    assert await store.overrides(HERE) == {}


async def test_a_non_admin_is_refused_and_nothing_is_stored(running: Running, store: Store, slack: FakeSlack) -> None:
    answer = await running.answer_to("set temperature 0.3", user=USER)
    assert answer.startswith("Sorry, only admins can change")
    assert await store.overrides(HERE) == {}
    assert [call.params["user"] for call in slack.calls_to("users.info")] == [USER], "workspace roles were checked"


async def test_a_workspace_owner_is_an_admin_when_enabled(running: Running, store: Store, fake: FakeOpenAI) -> None:
    fake.models.append("gpt-test")  # a model is checked against the backend's list before it is stored
    answer = await running.answer_to("set model gpt-test", user="U0OWNER")
    assert answer == f"model is now gpt-test in slack:{TEAM}/{CHANNEL}."
    assert await store.overrides(HERE) == {"model": "gpt-test"}


async def test_an_invalid_value_gets_the_validation_message(running: Running, store: Store) -> None:
    answer = await running.answer_to("set temperature 7", user=ADMIN)
    assert answer.startswith("Not changed: temperature") and "Allowed: a number from 0 to 2" in answer
    answer = await running.answer_to("set colour blue", user=ADMIN)
    assert answer.startswith("Not changed") and "colour" in answer
    assert await store.overrides(HERE) == {}


async def test_models_help_and_unknown_subcommands(running: Running) -> None:
    models = await running.answer_to("models")
    assert "fake" in models and "fake-model" in models and "this channel" in models
    help_text = await running.answer_to("")
    assert "/parley show | set KEY VALUE | unset KEY | models | usage [YYYY-MM-DD] | help" in help_text
    assert "temperature" in help_text
    assert "@parley reset" in help_text and "/parley unset" in help_text and "/reset" not in help_text
    unknown = await running.answer_to("frobnicate")
    assert "Unknown subcommand 'frobnicate'" in unknown
    reset = await running.answer_to("reset")
    assert "mention me in that thread" in reset


async def test_the_slash_command_is_acknowledged_at_once(running: Running) -> None:
    status, body = await running.slash("show")
    assert (status, body) == (200, ""), "an empty ack; the answer follows through response_url"


async def test_with_redis_down_every_path_still_answers(core: Conversation, slack: FakeSlack) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    broken = Conversation(config=core.config, store=Store(dead, "dead"), backends=core.backends)
    try:
        async with serve_slack(broken, slack) as running:
            answer = await running.answer_to("show")
            assert "something went wrong" in answer, "not silence after the ack"
            event = mention("ask <@U0OWNER> about it")
            assert (await running.event(event, event_id="Ev0LOST"))[0] == 503, (
                "not acknowledged: Slack delivers it again"
            )
            await running.event(event, event_id="Ev0LOST", retry=3)  # Slack's last try: the user is told
            await until(lambda: any("something went wrong" in m.text for m in slack.thread(CHANNEL, event["ts"])))
    finally:
        await dead.aclose()
