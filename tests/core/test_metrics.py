"""The core moves /metrics as things happen: one outcome per message, the answer's times by the backend that
answered, tokens, backend errors, fallbacks and the helpdesk's numbers. Real Redis, the fake LLM over loopback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest_asyncio

from bot.config import BackendConfig, Config
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.messages import TERMINAL_STYLE, Author
from bot.metrics import Metrics
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import TEST_KEY_ENV, make_config
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply
from tests.support.messages import msg
from tests.support.metric_samples import parley_samples, value
from tests.support.recording_sink import RecordingSink

OUTCOMES = ("answered", "failed", "ignored", "deduplicated", "rate_limited", "budget")


def outcomes(metrics: Metrics, platform: str = "test") -> dict[str, float]:
    """The messages counted for ``platform`` by outcome (only those counted)."""
    counted = {name: value(metrics, "parley_messages_total", platform=platform, outcome=name) for name in OUTCOMES}
    return {name: count for name, count in counted.items() if count}


def replies(metrics: Metrics, backend: str, platform: str = "test") -> tuple[float, float]:
    """How many answers the reply and the first-token histograms hold for ``backend``."""
    labels = {"platform": platform, "backend": backend}
    return (
        value(metrics, "parley_reply_seconds_count", **labels),
        value(metrics, "parley_first_token_seconds_count", **labels),
    )


@pytest_asyncio.fixture
async def second() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(models=["second-model"]) as server:
        yield server


@pytest_asyncio.fixture
async def fallback_core(fake: FakeOpenAI, second: FakeOpenAI, prefix: str, store: Store) -> AsyncIterator[Conversation]:
    """A core whose backend "primary" (``fake``) falls back to "second" (``second``)."""
    common = {"api_key_env": TEST_KEY_ENV, "read_timeout": 2.0, "connect_timeout": 2.0, "max_retries": 2}
    backends = {
        "primary": BackendConfig(base_url=fake.url, model="fake-model", **common),
        "second": BackendConfig(base_url=second.url, model="second-model", **common),
    }
    config = Config(redis_prefix=prefix, backends=backends, defaults={"fallbacks": ["second"]})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    yield core
    for backend in core.backends.values():
        await backend.aclose()


@dataclass
class DeskSink(RecordingSink):
    """A recording sink that serves a helpdesk: the messages the buttons are offered on."""

    offered: list[str] = field(default_factory=list)

    async def offer_feedback(self, message_id: str) -> str:
        self.offered.append(message_id)
        return message_id

    async def hand_off(self, text: str, group: str | None) -> str:
        return await self.post(text)


async def test_an_answer_counts_once_with_its_times_and_tokens(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    fake.queue(Reply("a fine answer", chunk_size=4, delay=0.02))
    await core.receive(msg("hello"), sink)
    assert sink.last == "a fine answer"
    metrics = core.metrics
    assert outcomes(metrics) == {"answered": 1}
    assert replies(metrics, "fake") == (1, 1)
    total = value(metrics, "parley_reply_seconds_sum", platform="test", backend="fake")
    first = value(metrics, "parley_first_token_seconds_sum", platform="test", backend="fake")
    assert 0 < first <= total < 30, "the first text shows before the answer is complete"
    assert value(metrics, "parley_tokens_total", backend="fake", kind="prompt") > 0
    assert value(metrics, "parley_tokens_total", backend="fake", kind="completion") > 0
    assert value(metrics, "parley_backend_errors_total", backend="fake", kind="auth") == 0


async def test_a_redelivery_is_deduplicated_and_not_answered_again(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    first = msg("once", event="E1")
    await core.receive(first, sink)
    await core.receive(first, sink)
    assert len(fake.requests) == 1
    assert outcomes(core.metrics) == {"answered": 1, "deduplicated": 1}
    assert replies(core.metrics, "fake") == (1, 1)


async def test_a_command_is_answered_and_a_message_not_for_parley_is_ignored(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    await core.receive(msg("/show"), sink)
    await core.receive(msg("talking among ourselves", mentioned=False), sink)
    await core.receive(msg("   "), sink)
    assert fake.requests == []
    assert outcomes(core.metrics) == {"answered": 1, "ignored": 2}
    assert replies(core.metrics, "fake") == (0, 0), "no model answered"


async def test_a_noted_thread_message_is_ignored_and_its_redelivery_deduplicated(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    await core.receive(msg("remember this thread"), sink)
    aside = msg("an aside", mentioned=False, event="N1")
    await core.note(aside)
    await core.note(aside)
    assert outcomes(core.metrics) == {"answered": 1, "ignored": 1, "deduplicated": 1}


async def test_a_backend_failure_counts_a_failed_message_and_the_error_by_kind(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    fake.queue(HTTPError(401))
    await core.receive(msg("hello"), sink)
    assert "hello" not in sink.last, "a notice, not an answer"
    assert outcomes(core.metrics) == {"failed": 1}
    assert value(core.metrics, "parley_backend_errors_total", backend="fake", kind="auth") == 1
    assert replies(core.metrics, "fake") == (0, 0)
    assert value(core.metrics, "parley_tokens_total", backend="fake", kind="completion") == 0


async def test_a_message_too_long_fails_without_a_backend_error(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, backend={"context_window": 3000})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    try:
        await core.receive(msg("word " * 5000), sink)
    finally:
        await core.backends["fake"].aclose()
    assert "too long" in sink.last
    assert outcomes(core.metrics) == {"failed": 1}
    assert value(core.metrics, "parley_backend_errors_total", backend="fake", kind="context") == 0


async def with_core(config: Config, store: Store, sink: RecordingSink, *texts: str) -> Metrics:
    """Each text received in turn by a core on ``config``; its metrics."""
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    try:
        for text in texts:
            await core.receive(msg(text), sink)
    finally:
        await core.backends["fake"].aclose()
    return core.metrics


async def test_a_message_over_a_rate_limit_is_counted_rate_limited(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, rate_limits={"user_per_minute": 1, "channel_per_minute": 0})
    metrics = await with_core(config, store, sink, "one", "two", "/show")
    assert len(fake.requests) == 1
    assert outcomes(metrics) == {"answered": 2, "rate_limited": 1}, "a command is not limited"


async def test_a_message_over_the_daily_budget_is_counted_budget(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, defaults={"daily_token_budget": 30})
    metrics = await with_core(config, store, sink, "first question", "second question")
    assert len(fake.requests) == 1
    assert outcomes(metrics) == {"answered": 1, "budget": 1}


async def test_a_fallback_answer_is_timed_under_the_fallback_and_the_primary_errors_are_counted(
    fallback_core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    core = fallback_core
    fake.queue(HTTPError(500), HTTPError(500), HTTPError(500))
    await core.receive(msg("hello"), sink)
    assert sink.last.startswith("echo: hello")
    metrics = core.metrics
    assert outcomes(metrics) == {"answered": 1}
    assert value(metrics, "parley_fallbacks_total", backend="second") == 1
    assert value(metrics, "parley_fallbacks_total", backend="primary") == 0
    assert value(metrics, "parley_backend_errors_total", backend="primary", kind="unavailable") == 1, (
        "once: the backend's own retries are one failed call"
    )
    assert replies(metrics, "second") == (1, 1) and replies(metrics, "primary") == (0, 0)
    assert value(metrics, "parley_tokens_total", backend="second", kind="completion") > 0
    assert value(metrics, "parley_tokens_total", backend="primary", kind="completion") == 0

    await core.receive(msg("and now?"), sink)
    assert replies(metrics, "primary") == (1, 1), "the primary answers again"
    assert value(metrics, "parley_fallbacks_total", backend="second") == 1


async def test_when_every_backend_fails_each_error_counts_and_no_fallback_does(
    fallback_core: Conversation, fake: FakeOpenAI, second: FakeOpenAI, sink: RecordingSink
) -> None:
    core = fallback_core
    fake.queue(HTTPError(500), HTTPError(500), HTTPError(500))
    second.queue(HTTPError(401))
    await core.receive(msg("hello"), sink)
    metrics = core.metrics
    assert outcomes(metrics) == {"failed": 1}
    assert value(metrics, "parley_backend_errors_total", backend="primary", kind="unavailable") == 1
    assert value(metrics, "parley_backend_errors_total", backend="second", kind="auth") == 1
    assert value(metrics, "parley_fallbacks_total", backend="second") == 0


async def test_the_desk_counts_questions_hand_offs_and_votes(core: Conversation, fake: FakeOpenAI) -> None:
    sink = DeskSink()
    fake.queue(Reply("Restart the VPN client."))
    await core.receive(msg("/set oncall @it-oncall"), sink)
    await core.receive(msg("my VPN is down"), sink)
    answer_id = sink.offered[0]
    metrics = core.metrics
    assert value(metrics, "parley_desk_questions_total") == 1
    assert (await core.desk.vote("test", answer_id, Author("U1", "Ann"), "up")).counted
    assert not (await core.desk.vote("test", answer_id, Author("U1", "Ann"), "down")).counted
    assert (await core.desk.vote("test", answer_id, Author("U2", "Bob"), "down")).counted
    assert value(metrics, "parley_desk_votes_total", vote="up") == 1
    assert value(metrics, "parley_desk_votes_total", vote="down") == 1, "a second vote of one person is not counted"

    await core.receive(msg("this is not working, can I talk to a human please?"), sink)
    assert value(metrics, "parley_desk_handoffs_total") == 1
    assert value(metrics, "parley_desk_questions_total") == 2, "a hand-off asked for is a question"
    await core.receive(msg("anyone?"), sink)  # with a person now: parley stays quiet
    assert outcomes(metrics) == {"answered": 2, "ignored": 2}

    button = await core.desk.hand_off_thread(ThreadKey("test", "W1", "C1", "t2"), Author("U2", "Bob"), TERMINAL_STYLE)
    assert button is not None
    assert value(metrics, "parley_desk_handoffs_total") == 2
    assert value(metrics, "parley_desk_questions_total") == 2, "the button follows a question counted already"


async def test_no_label_carries_an_id_or_a_text(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    fake.queue(HTTPError(401))
    await core.receive(msg("a secret question", user="U-SECRET"), sink)
    await core.receive(msg("another one", user="U-SECRET"), sink)
    await core.receive(msg("another one", user="U-SECRET", event="dup"), sink)
    await core.receive(msg("another one", user="U-SECRET", event="dup"), sink)
    values = {value for sample in parley_samples(core.metrics.render().decode()) for value in sample.labels.values()}
    for forbidden in ("U-SECRET", "W1", "C1", "t1", "secret", "another"):
        assert not any(forbidden in label for label in values), forbidden
    assert {"test", "fake", "answered", "failed", "deduplicated", "auth"} <= values
