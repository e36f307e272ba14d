"""Slack's agent view: the Messages tab opened (app_home_opened) is greeted, its DM answered, and the
channel the user looks at (app_context_changed) reaches the prompt."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.slack.config import SlackConfig, SlackPrompt
from adapters.slack.state import NAMESPACE, SlackState
from bot.config import Config
from bot.store import Store
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import TEAM, FakeSlack
from tests.support.slack_harness import DM, USER, Running, message, new_ts, running, slack, until

__all__ = ["running", "slack"]

PROMPTS = [SlackPrompt(title="Release notes", message="Draft release notes for me.")]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    slack = SlackConfig(edit_interval=0.05, assistant_greeting="Hello from parley!", suggested_prompts=PROMPTS)
    return make_config(fake.url, prefix, slack=slack)


def home_opened(tab: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": USER, "channel": DM, "tab": tab, "event_ts": new_ts()}


def context_changed(channel: str) -> dict[str, Any]:
    entity = {"type": "slack#/types/channel_id", "value": channel, "team_id": TEAM}
    return {"type": "app_context_changed", "user": USER, "context": {"entities": [entity]}, "event_ts": new_ts()}


async def test_the_messages_tab_is_greeted_once_and_its_dm_answered(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, store: Store
) -> None:
    assert (await running.event(home_opened("messages")))[0] == 200
    await until(lambda: bool(slack.calls_to("assistant.threads.setSuggestedPrompts")), what="suggested prompts")
    assert [m.text for m in slack.thread(DM, None)] == ["Hello from parley!"]
    (prompts,) = slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert prompts.params["channel_id"] == DM and "thread_ts" not in prompts.params
    assert prompts.params["prompts"] == [{"title": "Release notes", "message": "Draft release notes for me."}]

    await running.event(home_opened("messages"))  # opened again: no second greeting
    await running.event(home_opened("home"))  # the Home tab is not the DM
    await running.event(context_changed("C0ROADMAP"))
    state = SlackState(store.namespace(NAMESPACE))

    async def kept() -> bool:
        return await state.viewing(TEAM, USER) == "<#C0ROADMAP>"

    await until(kept, what="the viewed channel kept")
    await running.event(message("what changed this week?", channel=DM))
    await until(lambda: any(m.text == "echo: what changed this week?" for m in slack.thread(DM, None)))
    assert [m.text for m in slack.thread(DM, None)] == ["Hello from parley!", "echo: what changed this week?"]
    system = fake.requests[0]["messages"][0]["content"]
    assert "<#C0ROADMAP>" in system, "the prompt names the channel the user is viewing"
    assert len(slack.calls_to("assistant.threads.setSuggestedPrompts")) == 1


async def test_a_dm_parley_remembers_is_not_greeted_again(running: Running, slack: FakeSlack) -> None:
    await running.event(message("hello", channel=DM))
    await until(lambda: any(m.text == "echo: hello" for m in slack.thread(DM, None)))
    await running.event(home_opened("messages"))
    await running.event(message("again", channel=DM))
    await until(lambda: any(m.text == "echo: again" for m in slack.thread(DM, None)))
    assert [m.text for m in slack.thread(DM, None)] == ["echo: hello", "echo: again"]
