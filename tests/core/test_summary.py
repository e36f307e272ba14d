"""Running summaries of threads that outgrow their budget: made by the backend, stored, sent in later prompts."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from bot.answering import Responder
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.messages import ChatMessage
from bot.notices import FAILURES
from bot.prompt import estimate_tokens
from bot.store import Store
from bot.summary import INSTRUCTIONS, SUMMARY_HEADING, summary_request, turns_to_fold, with_summary
from bot.usage import day_of, utc_now
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply
from tests.support.messages import THREAD, msg
from tests.support.metric_samples import value
from tests.support.recording_sink import RecordingSink

SUMMARY = "SUMMARY: the project is called Kestrel; the deadline is Friday."
LONG = "noted " + "x" * 300  # about 80 tokens: a 600-token window holds about four such turns


def respond(body: dict[str, Any]) -> str:
    """The summary for a non-streamed (summary) request, a long answer otherwise."""
    return SUMMARY if body.get("stream") is False else LONG


@pytest_asyncio.fixture
async def small(fake: FakeOpenAI, prefix: str, store: Store) -> AsyncIterator[Conversation]:
    config = make_config(fake.url, prefix, backend={"context_window": 600}, defaults={"max_tokens": 200})
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends)
    for backend in backends.values():
        await backend.aclose()


def system_of(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


async def test_a_thread_that_outgrows_its_budget_keeps_its_early_facts(
    small: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    await small.receive(msg("/set summarize true"), sink)
    fake.queue(*[Reply(respond)] * 40)
    await small.receive(msg("Our project is called Kestrel."), sink)
    for n in range(10):
        await small.receive(msg(f"detail {n}"), sink)

    summaries = [r for r in fake.requests if r["stream"] is False]
    assert summaries, "the thread outgrew its budget, so a summary was asked for"
    first = summaries[0]
    assert system_of(first) == INSTRUCTIONS
    assert "user: Our project is called Kestrel." in first["messages"][1]["content"]
    assert first["max_tokens"] <= 150, "a summary's length is capped (a quarter of the window here)"

    history, summary = await store.load_thread(THREAD, 60)
    assert summary == SUMMARY
    assert "Our project is called Kestrel." not in [m.content for m in history], "folded turns leave the history"
    assert history[-2:] == [ChatMessage("user", "detail 9"), ChatMessage("assistant", LONG)]

    answer_after = fake.requests[fake.requests.index(first) + 1]
    assert answer_after["stream"] is True
    assert system_of(answer_after).endswith(f"\n\n{SUMMARY_HEADING}\n{SUMMARY}"), "used in the same turn's prompt"
    assert SUMMARY in system_of(fake.requests[-1]), "and in every later prompt"
    assert sink.last == LONG
    assert 2 <= len(summaries) <= 4, "the summary runs on, but not with a call on every turn"
    assert f"Summary so far:\n{SUMMARY}" in summaries[1]["messages"][1]["content"]

    totals, _ = await store.channel_usage(day_of(utc_now()), THREAD.channel_key)
    assert totals["replies"] == 11
    answered = [r for r in fake.requests if r["stream"] is True]
    assert totals["prompt"] > sum(4 + (len(m["content"]) + 3) // 4 for r in answered for m in r["messages"]), (
        "the summary calls' tokens count too"
    )

    await small.receive(msg("/reset"), sink)
    assert await store.load_thread(THREAD, 60) == ([], "")


async def test_without_the_setting_old_turns_are_just_dropped(
    small: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    fake.queue(*[Reply(respond)] * 10)
    for n in range(7):
        await small.receive(msg(f"detail {n}"), sink)
    assert all(r["stream"] is True for r in fake.requests)
    assert (await store.load_thread(THREAD, 60))[1] == ""


async def test_a_failed_summary_call_costs_only_the_summary(
    small: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    fake.queue(*[Reply(LONG)] * 6)
    for n in range(6):
        await small.receive(msg(f"detail {n}"), sink)
    await small.receive(msg("/set summarize true"), sink)
    fake.queue(HTTPError(400, "summaries are not allowed here"), Reply("still answered"))
    await small.receive(msg("next"), sink)

    assert fake.requests[-2]["stream"] is False and fake.requests[-1]["stream"] is True
    assert sink.last == "still answered"
    history, summary = await store.load_thread(THREAD, 60)
    assert summary == ""
    assert len(history) == 14, "nothing was folded away"
    assert value(small.metrics, "parley_backend_errors_total", backend="fake", kind="rejected") == 1, (
        "the failed summary call is a backend error in /metrics"
    )
    assert value(small.metrics, "parley_messages_total", platform=THREAD.platform, outcome="answered") == 8


async def test_a_summary_call_counts_even_when_the_reply_then_fails(
    small: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    fake.queue(*[Reply(LONG)] * 6)
    for n in range(6):
        await small.receive(msg(f"detail {n}"), sink)
    before, _ = await store.channel_usage(day_of(utc_now()), THREAD.channel_key)
    await small.receive(msg("/set summarize true"), sink)
    fake.queue(Reply(SUMMARY), HTTPError(401, "bad key"))
    await small.receive(msg("next"), sink)

    assert sink.last == FAILURES["auth"]
    _, summary = await store.load_thread(THREAD, 60)
    assert summary == SUMMARY, "the summary was made and kept"
    after, _ = await store.channel_usage(day_of(utc_now()), THREAD.channel_key)
    assert after["prompt"] > before["prompt"] and after["completion"] > before["completion"], "its tokens count"
    assert after["replies"] == before["replies"] == 6, "but no reply was written"


async def test_the_responder_owns_the_fold_and_prompts_from_it(
    small: Conversation, fake: FakeOpenAI, store: Store
) -> None:
    history = [m for n in range(6) for m in (ChatMessage("user", f"detail {n}"), ChatMessage("assistant", LONG))]
    await store.append_turn(THREAD, history, 100, 60)
    settings = await small.settings_for(THREAD.channel_key)

    def responder(summarize: bool) -> Responder:
        return Responder(
            backends=small.backends,
            config=small.config,
            settings=settings.model_copy(update={"summarize": summarize}),
            thread=THREAD,
            text="next",
            history=history,
            summary="",
        )

    plain = responder(False)
    prompt = plain.first_prompt()
    assert prompt.dropped_turns > 0
    assert await plain.fold_summary(store, prompt) is None, "without summarize nothing is folded"
    assert fake.requests == []

    folding = responder(True)
    fake.queue(Reply(SUMMARY))
    folded = await folding.fold_summary(store, folding.first_prompt())
    assert folded is not None and folded.summary == SUMMARY
    assert fake.requests[-1]["stream"] is False
    assert await store.load_thread(THREAD, 60) == (folded.history, SUMMARY)
    after = folding.first_prompt()
    assert after.messages[0].content.endswith(f"\n\n{SUMMARY_HEADING}\n{SUMMARY}")
    assert after.messages[1].content == folded.history[0].content, "prompts start from what is left"
    assert after.dropped_turns < prompt.dropped_turns


def test_the_summary_request_keeps_the_newest_turns_that_fit() -> None:
    turns = [ChatMessage("user", f"old {n} " + "y" * 400) for n in range(20)] + [ChatMessage("user", "newest")]
    messages = summary_request("before", turns, context_window=1000)
    body = messages[1].content
    assert body.startswith("Summary so far:\nbefore\n\nNew turns:\n") and body.endswith("user: newest")
    assert "old 0 " not in body, "the oldest go when they do not fit"
    assert estimate_tokens(INSTRUCTIONS) + estimate_tokens(body) <= 1000 - 250


def test_with_summary() -> None:
    assert with_summary("Be brief.", "") == "Be brief."
    assert with_summary("Be brief.", " facts ") == f"Be brief.\n\n{SUMMARY_HEADING}\nfacts"
    assert with_summary("", "facts") == f"{SUMMARY_HEADING}\nfacts"


def test_folding_leaves_room_for_several_turns() -> None:
    assert turns_to_fold(total_turns=21, dropped_turns=1) == 11
    assert turns_to_fold(total_turns=5, dropped_turns=5) == 5
    assert turns_to_fold(total_turns=5, dropped_turns=0) == 2
