"""Fallbacks, the reply time cap, reasoning kept out of replies, and the trimmed retry, through the core.

Two loopback fake LLM servers are two backends; Redis is the real throwaway server.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.config import BackendConfig, Config, ConfigError, load_config
from bot.conversation import Conversation
from bot.fallback import capped_note, fallback_note
from bot.llm.registry import open_backends
from bot.notices import FAILURES
from bot.reasoning import QUOTE_HEADER
from bot.store import Store
from bot.usage import day_of, utc_now
from tests.support.config import TEST_KEY_ENV, make_config
from tests.support.fake_openai import Drop, FakeOpenAI, HTTPError, Reply, Stall
from tests.support.messages import THREAD, msg, roles
from tests.support.recording_sink import RecordingSink

CONTEXT_ERROR = "This model's maximum context length is 8192 tokens."


@pytest_asyncio.fixture
async def second() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(models=["second-model"]) as server:
        yield server


def two_backends(
    primary_url: str, second_url: str, prefix: str, *, primary: dict[str, Any] | None = None, **fields: Any
) -> Config:
    common = {"api_key_env": TEST_KEY_ENV, "read_timeout": 2.0, "connect_timeout": 2.0, "max_retries": 2}
    backends = {
        "primary": BackendConfig(base_url=primary_url, model="fake-model", **{**common, **(primary or {})}),
        "second": BackendConfig(base_url=second_url, model="second-model", **common),
    }
    defaults = {"fallbacks": ["second"], **fields.pop("defaults", {})}
    return Config(redis_prefix=prefix, backends=backends, defaults=defaults, **fields)


@pytest_asyncio.fixture
async def opened() -> AsyncIterator[list[Conversation]]:
    """Conversations a test opens; their backends are closed at the end."""
    opened: list[Conversation] = []
    yield opened
    for conversation in opened:
        for backend in conversation.backends.values():
            await backend.aclose()


def open_core(config: Config, store: Store, opened: list[Conversation]) -> Conversation:
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    opened.append(core)
    return core


async def history(store: Store) -> list[str]:
    return [m.content for m in (await store.load_thread(THREAD, 60))[0]]


# -- fallbacks -----------------------------------------------------------------------------------


async def test_a_fallback_answers_when_the_primary_fails_after_its_retries(
    fake: FakeOpenAI,
    second: FakeOpenAI,
    prefix: str,
    store: Store,
    sink: RecordingSink,
    opened: list[Conversation],
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = open_core(two_backends(fake.url, second.url, prefix), store, opened)
    fake.queue(HTTPError(500), HTTPError(500), HTTPError(500))
    await core.receive(msg("hello"), sink)

    assert len(fake.requests) == 3, "the primary used its retries first"
    assert second.requests[0]["model"] == "second-model"
    assert sink.texts == ["echo: hello" + fallback_note("second", "second-model", "unavailable")]
    assert sink.last.endswith("_answered by second:second-model (primary unavailable)_")
    assert await history(store) == ["hello", "echo: hello"], "the note is not part of the answer"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("answered by fallback second:second-model" in w and "unavailable" in w for w in warnings)

    await core.receive(msg("and now?"), sink)
    assert sink.last == "echo: and now?", "the primary answers again once it is back"
    assert roles(fake.requests[-1])[1:] == [("user", "hello"), ("assistant", "echo: hello"), ("user", "and now?")]


async def test_a_fallback_answers_when_the_primary_sends_no_first_token_in_time(
    fake: FakeOpenAI,
    second: FakeOpenAI,
    prefix: str,
    store: Store,
    sink: RecordingSink,
    opened: list[Conversation],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A read timeout of 60 s would only fire long after the test's patience: the first-token timeout must.
    config = two_backends(fake.url, second.url, prefix, primary={"read_timeout": 60.0, "first_token_timeout": 0.5})
    core = open_core(config, store, opened)
    fake.queue(Stall(text_before=""))
    await core.receive(msg("quick, please"), sink)

    assert sink.texts == ["echo: quick, please" + fallback_note("second", "second-model", "timeout")]
    assert "(primary too slow)" in sink.last
    assert any("no first token within 0.5s" in r.getMessage() for r in caplog.records)
    assert await history(store) == ["quick, please", "echo: quick, please"]


async def test_a_stalled_summary_call_does_not_hold_up_the_fallback(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    """Summaries, first-token timeout and fallback in one reply: the summary call gets the same patience."""
    primary = {"read_timeout": 60.0, "first_token_timeout": 0.5, "context_window": 600}
    config = two_backends(fake.url, second.url, prefix, primary=primary, defaults={"max_tokens": 200})
    core = open_core(config, store, opened)
    fake.queue(*[Reply("noted " + "x" * 300)] * 6)
    for n in range(6):
        await core.receive(msg(f"detail {n}"), sink)
    await core.receive(msg("/set summarize true"), sink)
    fake.queue(Stall(text_before=""), Stall(text_before=""))  # the summary call, then the reply

    # A read timeout of 60 s is longer than this wait: only the first-token timeout can end the stalls in time.
    await asyncio.wait_for(core.receive(msg("still there?"), sink), timeout=30)

    assert fake.requests[-2]["stream"] is False and fake.requests[-1]["stream"] is True
    assert sink.last == "echo: still there?" + fallback_note("second", "second-model", "timeout")
    stored, summary = await store.load_thread(THREAD, 60)
    assert summary == "" and len(stored) == 14, "the failed summary folded nothing away"


async def test_the_first_token_timeout_covers_the_primarys_retries(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    config = two_backends(fake.url, second.url, prefix, primary={"first_token_timeout": 0.5})
    core = open_core(config, store, opened)
    fake.queue(HTTPError(503, retry_after="20"), Reply("too late"))  # the primary asks for 20 s of patience
    await core.receive(msg("now, please"), sink)
    assert sink.texts == ["echo: now, please" + fallback_note("second", "second-model", "timeout")]
    assert len(fake.requests) == 1, "the primary's retry was not waited for"


async def test_no_fallback_once_the_primary_has_shown_text(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    core = open_core(two_backends(fake.url, second.url, prefix), store, opened)
    fake.queue(Drop(text_before="The first model began to "))
    await core.receive(msg("hi"), sink)

    assert second.requests == [], "two models' text never mix in one reply"
    assert sink.texts == ["The first model began to ", FAILURES["interrupted"]]
    assert await history(store) == []


async def test_a_failure_another_backend_would_share_does_not_fall_back(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    core = open_core(two_backends(fake.url, second.url, prefix), store, opened)
    fake.queue(HTTPError(400, "Unrecognized request argument: foo"))
    await core.receive(msg("hi"), sink)
    assert second.requests == []
    assert sink.texts == [FAILURES["rejected"]]


async def test_when_every_backend_fails_the_last_failure_is_told(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    core = open_core(two_backends(fake.url, second.url, prefix), store, opened)
    fake.queue(HTTPError(401, "bad key", echo_key=True))
    second.queue(HTTPError(404, "The model `second-model` does not exist"))
    await core.receive(msg("hi"), sink)
    assert len(fake.requests) == 1 and len(second.requests) == 1
    assert sink.texts == [FAILURES["unknown_model"].format(model="second-model")]
    assert os.environ[TEST_KEY_ENV] not in sink.last
    assert await history(store) == []


async def test_a_fallback_may_name_its_model(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    config = two_backends(fake.url, second.url, prefix, defaults={"fallbacks": ["second:bigger-model"]})
    core = open_core(config, store, opened)
    fake.queue(*[HTTPError(503)] * 3)
    await core.receive(msg("hi"), sink)
    assert second.requests[0]["model"] == "bigger-model"
    assert sink.last.endswith("_answered by second:bigger-model (primary unavailable)_")


async def test_fallbacks_are_checked_against_the_configured_backends(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    core = open_core(two_backends(fake.url, second.url, prefix, defaults={"fallbacks": []}), store, opened)
    await core.receive(msg("/set fallbacks nowhere"), sink)
    assert sink.last.startswith("Not changed: fallbacks: unknown backend in 'nowhere'. Allowed: primary, second.")
    await core.receive(msg("/set fallbacks second:other-model, second"), sink)
    assert sink.last == 'fallbacks is now ["second:other-model", "second"] in test:W1/C1.'
    assert await store.overrides(THREAD.channel_key) == {"fallbacks": ["second:other-model", "second"]}
    await core.receive(msg("/set fallbacks none"), sink)
    assert await store.overrides(THREAD.channel_key) == {"fallbacks": []}


# -- the reply time cap ------------------------------------------------------------------------


async def test_a_runaway_reply_is_cut_at_the_time_cap_and_kept(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    core = open_core(make_config(fake.url, prefix, defaults={"reply_timeout_seconds": 1}), store, opened)
    fake.queue(Reply("word " * 400, chunk_size=5, delay=0.05))  # 20 s if left to run
    await core.receive(msg("go on forever"), sink)

    shown = sink.last
    assert shown.startswith("word word") and shown.endswith(capped_note(1))
    answer = shown.removesuffix(capped_note(1))
    assert 0 < len(answer) < len("word " * 400)
    assert await history(store) == ["go on forever", answer], "what was shown (without the note) is kept"
    totals, _ = await store.channel_usage(day_of(utc_now()), THREAD.channel_key)
    assert totals["capped"] == 1 and totals["estimated"] == 1, "a cut-off reply's tokens are estimated"
    assert totals["completion"] > 0


async def test_a_time_cap_before_any_text_is_a_timeout(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    config = make_config(fake.url, prefix, backend={"read_timeout": 60.0}, defaults={"reply_timeout_seconds": 0.5})
    core = open_core(config, store, opened)
    fake.queue(Stall(text_before=""))
    await core.receive(msg("hello?"), sink)
    assert sink.texts == [FAILURES["timeout"]]
    assert await history(store) == []


# -- reasoning -----------------------------------------------------------------------------------

THINKING = "<think>The user wants a bird.\nKestrel is short.</think>\n\nKestrel."


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 100])
async def test_a_think_block_is_kept_out_of_the_reply_and_the_history(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink, chunk_size: int
) -> None:
    fake.queue(Reply(THINKING, chunk_size=chunk_size))
    await core.receive(msg("name a bird"), sink)
    assert sink.texts == ["Kestrel."]
    assert all("think" not in write.text and "bird." not in write.text for write in sink.writes)
    assert await history(store) == ["name a bird", "Kestrel."]

    await core.receive(msg("why?"), sink)
    assert "Kestrel is short" not in str(fake.requests[-1]["messages"]), "reasoning never goes back to the model"


async def test_show_reasoning_shows_it_quoted_but_never_stores_it(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    await core.receive(msg("/set show_reasoning true"), sink)
    fake.queue(Reply(THINKING, chunk_size=4))
    await core.receive(msg("name a bird"), sink)
    assert sink.last == f"{QUOTE_HEADER}The user wants a bird.\n> Kestrel is short.\n\nKestrel."
    assert await history(store) == ["name a bird", "Kestrel."]


# -- a prompt over the context window --------------------------------------------------------------


async def test_a_context_error_is_retried_once_with_half_the_turns(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(4):
        await core.receive(msg(f"question {n}"), sink)
    fake.queue(HTTPError(400, CONTEXT_ERROR), Reply("fits now"))
    await core.receive(msg("last one"), sink)

    assert sink.last == "fits now"
    full, trimmed = roles(fake.requests[-2]), roles(fake.requests[-1])
    assert len(full) == 1 + 8 + 1 and len(trimmed) == 1 + 4 + 1, "half of the 4 earlier turns"
    assert trimmed[1:] == full[5:], "the newest turns are kept"
    assert (await history(store))[-2:] == ["last one", "fits now"]
    assert any("retrying once" in r.getMessage() for r in caplog.records)


def test_fallbacks_in_the_config_file_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    backend = '[backends.main]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n\n'
    path.write_text(backend + '[[channels]]\nmatch = "slack:*"\nfallbacks = ["main", "nope:big"]\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path, os.environ)
    assert "[[channels]] #1 (match = 'slack:*') fallbacks: unknown backend 'nope'; configured backends: main" in str(
        raised.value
    )
    path.write_text(backend + '[defaults]\nfallbacks = ["two words"]\n')
    with pytest.raises(ConfigError, match="'two words' is not a backend name or NAME:MODEL"):
        load_config(path, os.environ)
    path.write_text(backend + '[defaults]\nfallbacks = ["main:other-model"]\nreply_timeout_seconds = 0\n')
    with pytest.raises(ConfigError, match="reply_timeout_seconds"):
        load_config(path, os.environ)


async def test_a_think_block_is_kept_out_of_a_whole_answer_too(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    await core.receive(msg("/set stream false"), sink)
    fake.queue(Reply(THINKING))
    await core.receive(msg("name a bird"), sink)
    assert fake.requests[-1]["stream"] is False
    assert sink.last == "Kestrel."
    assert await history(store) == ["name a bird", "Kestrel."]


async def test_reasoning_items_are_shown_quoted_on_request_and_never_stored(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    await core.receive(msg("/set show_reasoning true"), sink)
    fake.queue(Reply("It is 42.", reasoning="Six times seven.\nYes, 42.", chunk_size=3))
    await core.receive(msg("6*7?"), sink)
    assert sink.last == f"{QUOTE_HEADER}Six times seven.\n> Yes, 42.\n\nIt is 42."
    assert await history(store) == ["6*7?", "It is 42."]
    await core.receive(msg("sure?"), sink)
    assert "Six times seven" not in str(fake.requests[-1]["messages"])


async def test_hidden_reasoning_does_not_stop_a_fallback(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    core = open_core(two_backends(fake.url, second.url, prefix), store, opened)
    fake.queue(Drop(text_before="<think>I was thinking about "))
    await core.receive(msg("hi"), sink)
    assert sink.texts == ["echo: hi" + fallback_note("second", "second-model", "interrupted")]


# -- everything in one reply ---------------------------------------------------------------------


async def test_summary_fallback_reasoning_and_usage_in_one_reply(
    fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, opened: list[Conversation]
) -> None:
    defaults = {"max_tokens": 200, "daily_token_budget": 1_000_000}
    config = two_backends(fake.url, second.url, prefix, primary={"context_window": 600}, defaults=defaults)
    core = open_core(config, store, opened)
    long = "noted " + "x" * 300
    fake.queue(*[Reply(long)] * 6)
    for n in range(6):
        await core.receive(msg(f"detail {n}"), sink)
    before, _ = await store.channel_usage(day_of(utc_now()), THREAD.channel_key)
    await core.receive(msg("/set summarize true"), sink)

    fake.queue(Reply("SUMMARY: six details were noted."), HTTPError(500), HTTPError(500), HTTPError(500))
    second.queue(Reply(THINKING, chunk_size=3))
    await core.receive(msg("name a bird"), sink)

    assert sink.last == "Kestrel." + fallback_note("second", "second-model", "unavailable")
    assert "think" not in sink.last and "wants a bird" not in sink.last
    stored, summary = await store.load_thread(THREAD, 60)
    assert summary == "SUMMARY: six details were noted."
    assert [m.content for m in stored][-2:] == ["name a bird", "Kestrel."], "the answer only: no thinking, no note"
    assert "SUMMARY: six details were noted." in second.requests[-1]["messages"][0]["content"]

    after, _ = await store.channel_usage(day_of(utc_now()), THREAD.channel_key)
    assert after["replies"] == before["replies"] + 1, "recorded once"
    assert after["fallbacks"] == 1
    summary_prompt = sum(4 + (len(m["content"]) + 3) // 4 for m in fake.requests[-4]["messages"])
    answer_prompt = sum(4 + (len(m["content"]) + 3) // 4 for m in second.requests[-1]["messages"])
    assert after["prompt"] - before["prompt"] == summary_prompt + answer_prompt, "the summary's and the fallback's"
