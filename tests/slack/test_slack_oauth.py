"""OAuth installation in several workspaces: the install link, the callback, the workspace's own token."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse

import pytest
import pytest_asyncio

from adapters.slack.state import NAMESPACE, SlackState
from bot.config import Config
from bot.conversation import Conversation
from bot.store import Store
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import CHANNEL, Running, message, serve_slack, until

SECOND = "T0SECOND"
SECOND_TOKEN = "xoxb-second-0123456789"


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix)


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        server.tokens[SECOND_TOKEN] = (SECOND, "U0BOT2", "B0BOT2")
        server.installation = {
            "access_token": SECOND_TOKEN,
            "token_type": "bot",
            "scope": "chat:write,app_mentions:read",
            "bot_user_id": "U0BOT2",
            "app_id": "A0TEST",
            "team": {"id": SECOND, "name": "Second"},
            "enterprise": None,
            "authed_user": {"id": "U0INSTALLER"},
            "is_enterprise_install": False,
        }
        yield server


@pytest_asyncio.fixture
async def running(core: Conversation, slack: FakeSlack) -> AsyncIterator[Running]:
    oauth = {"SLACK_BOT_TOKEN": "", "SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "client-secret-xyz"}
    async with serve_slack(core, slack, **oauth) as running:
        yield running


async def install(running: Running, code: str = "good-code") -> tuple[int, str]:
    async with running.session.get(running.url + "/slack/install") as page:
        assert page.status == 200
        html = await page.text()
        cookie = page.headers["Set-Cookie"].split(";")[0]
    link = re.search(r'<a href="([^"]+)"', html)
    assert link is not None
    authorize = urlparse(link.group(1).replace("&amp;", "&"))
    assert authorize.geturl().startswith(running.slack.url + "/oauth/v2/authorize"), "SLACK_API_URL's host"
    query = parse_qs(authorize.query)
    assert query["client_id"] == ["111.222"] and "chat:write" in query["scope"][0]
    callback = f"{running.url}/slack/oauth_redirect?code={code}&state={query['state'][0]}"
    async with running.session.get(callback, headers={"Cookie": cookie}) as done:
        return done.status, await done.text()


async def test_a_workspace_installs_and_is_answered_with_its_own_token(
    running: Running, slack: FakeSlack, store: Store
) -> None:
    status, _ = await install(running)
    assert status == 200
    (access,) = slack.calls_to("oauth.v2.access")
    assert (access.params["client_id"], access.params["client_secret"]) == ("111.222", "client-secret-xyz")
    saved = await SlackState(store.namespace(NAMESPACE)).installation(None, SECOND)
    assert saved is not None and saved["bot_token"] == SECOND_TOKEN

    event = message("<@U0BOT2> hello second workspace")
    await running.event(event, team=SECOND)
    await until(lambda: any(m.text == "echo: hello second workspace" for m in slack.thread(CHANNEL, event["ts"])))
    (posted,) = slack.calls_to("chat.postMessage")
    assert posted.token == SECOND_TOKEN


async def test_an_installed_workspace_token_stays_out_of_debug_logs(
    running: Running, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert (await install(running))[0] == 200
    event = message("<@U0BOT2> hello")
    await running.event(event, team=SECOND)
    await until(lambda: any(m.text == "echo: hello" for m in slack.thread(CHANNEL, event["ts"])))
    assert "oauth.v2.access" in caplog.text, "slack_sdk logged the exchange at debug level"
    assert SECOND_TOKEN not in caplog.text


async def test_a_forged_state_installs_nothing(running: Running, slack: FakeSlack, store: Store) -> None:
    callback = f"{running.url}/slack/oauth_redirect?code=good-code&state=forged"
    async with running.session.get(callback, headers={"Cookie": "slack-app-oauth-state=forged"}) as response:
        assert response.status == 401
    assert not slack.calls_to("oauth.v2.access")
    assert await SlackState(store.namespace(NAMESPACE)).installation(None, SECOND) is None


async def test_an_installed_workspace_is_asked_who_parley_is_once_not_per_event(
    running: Running, slack: FakeSlack
) -> None:
    assert (await install(running))[0] == 200
    installing = len(slack.calls_to("auth.test"))  # Bolt's OAuth flow asks once, to store the bot's id
    events = [message(f"<@U0BOT2> question {n}", channel=f"C0CHAN{n}", user=f"U0PERSON{n}") for n in range(30)]
    statuses = await asyncio.gather(*(running.event(event, team=SECOND) for event in events))
    assert {status for status, _ in statuses} == {200}
    for n, event in enumerate(events):
        want = f"echo: question {n}"
        await until(lambda: any(m.text == want for m in slack.thread(event["channel"], event["ts"])))  # noqa: B023
    answering = slack.calls_to("auth.test")[installing:]
    assert [call.token for call in answering] == [SECOND_TOKEN], "one auth.test for 30 events"
