"""A thread's earlier messages handed to the core: kept once, attributed, within the budget, folded when long."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.messages import PriorMessage
from bot.store import Store
from bot.thread_context import prior_history
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.messages import THREAD, msg
from tests.support.recording_sink import RecordingSink

SUMMARY = "SUMMARY: the outage began at 10:02 when the database restarted."


def thread_of(count: int) -> tuple[PriorMessage, ...]:
    return tuple(PriorMessage("Ada" if n % 2 else "Grace", f"note {n}: " + "x" * 120) for n in range(count))


def test_the_newest_messages_with_text_are_kept_attributed() -> None:
    prior = (
        PriorMessage("Ada", "first"),
        PriorMessage("", "second"),
        PriorMessage("Bob", "  "),
        PriorMessage("Cy", "3"),
    )
    assert [m.content for m in prior_history(prior, 2)] == ["someone: second", "Cy: 3"]
    assert all(m.role == "user" for m in prior_history(prior, 10))


async def test_context_is_wanted_once_and_not_after_a_reset(core: Conversation, sink: RecordingSink) -> None:
    assert await core.context_wanted(THREAD) == 50
    await core.receive(dataclasses.replace(msg("what happened?"), prior=thread_of(3)), sink)
    assert await core.context_wanted(THREAD) == 0, "the thread is remembered: no platform read"
    await core.receive(msg("/reset"), sink)
    assert await core.context_wanted(THREAD) == 0, "a reset thread is not read back in"
    await core.receive(msg("/set thread_context_messages 7"), sink)
    assert await core.context_wanted(dataclasses.replace(THREAD, thread="other")) == 7


async def test_a_message_not_for_parley_is_kept_only_in_a_remembered_thread(
    core: Conversation, sink: RecordingSink, fake: FakeOpenAI, store: Store
) -> None:
    aside = dataclasses.replace(msg("an aside", mentioned=False), author=dataclasses.replace(msg("").author, name="Bo"))
    await core.note(aside)
    assert not await store.has_history(THREAD), "parley is not in this thread: nothing is kept"
    await core.receive(msg("hello"), sink)
    await core.note(dataclasses.replace(aside, event_id="later"))
    await core.note(dataclasses.replace(aside, event_id="later"))  # a redelivery is kept once
    await core.receive(msg("and?"), sink)
    assert [m["content"] for m in fake.requests[-1]["messages"][1:]] == ["hello", "echo: hello", "Bo: an aside", "and?"]


def respond(body: dict[str, Any]) -> str:
    return SUMMARY if body.get("stream") is False else "ok"


@pytest_asyncio.fixture
async def small(fake: FakeOpenAI, prefix: str, store: Store) -> AsyncIterator[Conversation]:
    config = make_config(fake.url, prefix, backend={"context_window": 1200}, defaults={"max_tokens": 200})
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends)
    for backend in backends.values():
        await backend.aclose()


async def test_a_long_thread_keeps_its_newest_messages_and_folds_the_rest(
    small: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    await small.receive(msg("/set summarize true"), sink)
    fake.queue(Reply(respond), Reply(respond))
    prior = thread_of(30)
    await small.receive(dataclasses.replace(msg("what went wrong?"), prior=prior), sink)
    summary_request, answer = fake.requests
    assert summary_request["stream"] is False and "Grace: note 0:" in summary_request["messages"][1]["content"]
    sent = [m["content"] for m in answer["messages"][1:]]
    assert sent[-1] == "what went wrong?"
    assert sent[-2] == f"Ada: {prior[-1].text}", "the newest messages are kept, in order"
    assert len(sent) < 31 and f"Grace: {prior[0].text}" not in sent
    assert SUMMARY in answer["messages"][0]["content"]
    _, summary = await store.load_thread(THREAD, 60)
    assert summary == SUMMARY
