"""Slack's assistant view: greeting, suggested prompts, status while thinking, title, viewed channel."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.slack.config import SlackConfig, SlackPrompt
from bot.config import Config
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import TEAM, FakeSlack
from tests.support.slack_harness import DM, USER, Running, message, new_ts, running, slack, until

__all__ = ["running", "slack"]


PROMPTS = [SlackPrompt(title="Release notes", message="Draft release notes for me.")]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    slack = SlackConfig(
        edit_interval=0.05,
        first_text_grace=0,
        native_streaming=False,
        assistant_greeting="Hello from parley!",
        suggested_prompts=PROMPTS,
    )
    return make_config(fake.url, prefix, slack=slack)


def thread_event(kind: str, thread_ts: str, viewing: str | None) -> dict[str, Any]:
    context = {"channel_id": viewing, "team_id": TEAM, "enterprise_id": None} if viewing else {}
    return {
        "type": kind,
        "assistant_thread": {"user_id": USER, "context": context, "channel_id": DM, "thread_ts": thread_ts},
        "event_ts": new_ts(),
    }


async def test_an_assistant_thread_from_greeting_to_answer(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    thread = new_ts()
    assert (await running.event(thread_event("assistant_thread_started", thread, "C0ROADMAP")))[0] == 200
    await until(lambda: bool(slack.calls_to("assistant.threads.setSuggestedPrompts")), what="suggested prompts")
    assert [m.text for m in slack.thread(DM, thread)] == ["Hello from parley!"]
    (prompts,) = slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert prompts.params["prompts"] == [{"title": "Release notes", "message": "Draft release notes for me."}]
    assert prompts.params["thread_ts"] == thread

    fake.queue(Reply("Here is a *summary* of the roadmap.", chunk_size=4, delay=0.02))
    question = message("Summarise   this channel for me", channel=DM, thread_ts=thread)
    await running.event(question)
    answer = "Here is a _summary_ of the roadmap."
    await until(lambda: any(m.text == answer for m in slack.thread(DM, thread)), what="the streamed answer")

    statuses = [(c.params["thread_ts"], c.params["status"]) for c in slack.calls_to("assistant.threads.setStatus")]
    assert statuses == [(thread, "is thinking…"), (thread, "")], "shown while waiting, then cleared"
    status_cleared = slack.calls_to("assistant.threads.setStatus")[-1].at
    first_text = next(c for c in slack.calls if c.method in ("chat.postMessage", "chat.update") and c.at > prompts.at)
    assert status_cleared <= first_text.at, "the status is cleared as the first text appears"
    (title,) = slack.calls_to("assistant.threads.setTitle")
    assert title.params["title"] == "Summarise this channel for me"
    system = fake.requests[0]["messages"][0]["content"]
    assert "<#C0ROADMAP>" in system, "the prompt names the channel the user is viewing"
    assert not any(m.text.startswith("_thinking") for m in slack.thread(DM, thread)), "the status, not a placeholder"


async def test_the_viewed_channel_follows_context_changes(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    thread = new_ts()
    await running.event(thread_event("assistant_thread_started", thread, "C0FIRST"))
    await until(lambda: bool(slack.calls_to("assistant.threads.setSuggestedPrompts")))
    await running.event(thread_event("assistant_thread_context_changed", thread, "C0SECOND"))
    await running.event(message("first question", channel=DM, thread_ts=thread))
    await until(lambda: any(m.text == "echo: first question" for m in slack.thread(DM, thread)))
    await running.event(message("second question", channel=DM, thread_ts=thread))
    await until(lambda: any(m.text == "echo: second question" for m in slack.thread(DM, thread)))
    assert "<#C0SECOND>" in fake.requests[0]["messages"][0]["content"]
    assert [m["content"] for m in fake.requests[1]["messages"][1:]] == [
        "first question",
        "echo: first question",
        "second question",
    ], "one conversation per assistant thread"
    assert len(slack.calls_to("assistant.threads.setTitle")) == 1, "titled after the first question only"


async def test_a_redelivered_thread_start_greets_once(running: Running, slack: FakeSlack) -> None:
    thread = new_ts()
    started = thread_event("assistant_thread_started", thread, None)
    await running.event(started, event_id="Ev0START")
    await until(lambda: bool(slack.calls_to("assistant.threads.setSuggestedPrompts")))
    await running.event(started, event_id="Ev0START", retry=1)
    await running.event(message("hi", channel=DM, thread_ts=thread))
    await until(lambda: any(m.text == "echo: hi" for m in slack.thread(DM, thread)))
    assert [m.text for m in slack.thread(DM, thread)] == ["Hello from parley!", "echo: hi"]
