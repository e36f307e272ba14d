"""Token usage: counts from the backend's report, daily totals in Redis, /usage, `parley usage`, budgets."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from bot.config import Config
from bot.conversation import Conversation
from bot.llm.base import Usage
from bot.llm.registry import open_backends
from bot.prompt import MESSAGE_OVERHEAD, REPLY_PRIMING, estimate_tokens
from bot.store import Store
from bot.threads import ChannelKey
from bot.usage import USAGE_TTL_DAYS, ReplyCost, UsageBook, channel_report, day_of, estimate, parse_day, utc_now
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply
from tests.support.messages import THREAD, msg
from tests.support.parley_process import env, parley  # noqa: F401  (env is a fixture)
from tests.support.recording_sink import RecordingSink

CHANNEL = THREAD.channel_key


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def fake_prompt_tokens(request: dict[str, object]) -> int:
    """What the fake server reports for a request's prompt (4 per message plus a quarter of its characters)."""
    return sum(4 + (len(m["content"]) + 3) // 4 for m in request["messages"])  # type: ignore[attr-defined, index]


@pytest_asyncio.fixture
async def clocked(config: Config, store: Store) -> AsyncIterator[tuple[Conversation, Clock]]:
    clock = Clock(datetime(2026, 3, 14, 23, 0, tzinfo=UTC))
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends, clock=clock), clock
    for backend in backends.values():
        await backend.aclose()


async def test_usage_comes_from_the_backends_report(
    clocked: tuple[Conversation, Clock], fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    core, _ = clocked
    fake.queue(Reply("Twelve characters, more or less."))
    await core.receive(msg("How long is this answer?"), sink)
    fake.queue(Reply("Short."))
    await core.receive(msg("And this one?", user="U2"), sink)

    totals, users = await store.channel_usage("2026-03-14", CHANNEL)
    prompts = [fake_prompt_tokens(r) for r in fake.requests]
    completions = [(len("Twelve characters, more or less.") + 3) // 4, (len("Short.") + 3) // 4]
    assert totals == {
        "prompt": sum(prompts), "completion": sum(completions),
        "replies": 2, "estimated": 0, "fallbacks": 0, "capped": 0,
    }  # fmt: skip
    assert users == {
        "U1:prompt": prompts[0], "U1:completion": completions[0],
        "U2:prompt": prompts[1], "U2:completion": completions[1],
    }  # fmt: skip
    ttl = await store.redis.ttl(f"{store.prefix}:usage:2026-03-14:{CHANNEL}")
    assert USAGE_TTL_DAYS * 86400 - 60 < ttl <= USAGE_TTL_DAYS * 86400

    await core.receive(msg("/usage"), sink)
    report = sink.last
    assert report.startswith(f"Usage in {CHANNEL} on 2026-03-14 (UTC):")
    assert f"{sum(prompts) + sum(completions)} tokens (prompt {sum(prompts)}, completion {sum(completions)})" in report
    assert "2 replies: 0 with estimated counts" in report
    assert "U1" in report and "U2" in report
    assert "daily budget" not in report


async def tokens_used(store: Store, day: str, channel: ChannelKey) -> int:
    """Prompt plus completion tokens the channel used that day, as the store reports them."""
    totals, _ = await store.channel_usage(day, channel)
    return totals.get("prompt", 0) + totals.get("completion", 0)


async def test_recording_adds_to_the_channels_and_the_users_totals(store: Store) -> None:
    book = UsageBook(store, Clock(datetime(2026, 1, 2, tzinfo=UTC)))
    await book.record(CHANNEL, "U1", ReplyCost(Usage(10, 5)))
    await book.record(CHANNEL, "U1", ReplyCost(Usage(1, 2, estimated=True), capped=True))
    assert await store.channel_usage("2026-01-02", CHANNEL) == (
        {"prompt": 11, "completion": 7, "replies": 2, "estimated": 1, "fallbacks": 0, "capped": 1},
        {"U1:prompt": 11, "U1:completion": 7},
    )
    assert await store.usage_channels("2026-01-02") == [CHANNEL]
    assert await tokens_used(store, "2026-01-02", CHANNEL) == 18
    assert await tokens_used(store, "2026-01-03", CHANNEL) == 0


async def test_the_budget_stops_the_channel_until_the_next_utc_day(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, defaults={"daily_token_budget": 30})
    clock = Clock(datetime(2026, 3, 14, 22, 30, tzinfo=UTC))
    backends = open_backends(config, os.environ)
    core = Conversation(config=config, store=store, backends=backends, clock=clock)
    try:
        await core.receive(msg("first question"), sink)
        assert sink.last == "echo: first question"
        used = fake_prompt_tokens(fake.requests[0]) + (len("echo: first question") + 3) // 4
        assert used >= 30, "one reply spends this small budget"

        await core.receive(msg("second question"), sink)
        assert len(fake.requests) == 1, "the model is not called once the budget is spent"
        assert sink.last.startswith(f"This channel has used its daily budget of 30 tokens ({used} used today).")
        assert "midnight UTC" in sink.last
        other_channel = msg("elsewhere", thread=THREAD.__class__("test", "W1", "C9", "t1"))
        await core.receive(other_channel, sink)
        assert len(fake.requests) == 2, "the budget is per channel"

        await core.receive(msg("/usage"), sink)
        assert "daily budget: 30 tokens, 0 left" in sink.last

        clock.now += timedelta(hours=2)  # 00:30 UTC the next day
        await core.receive(msg("third question"), sink)
        assert sink.last == "echo: third question"
        assert len(fake.requests) == 3
        assert [m.content for m in (await store.load_thread(THREAD, 60))[0]] == [
            "first question", "echo: first question", "third question", "echo: third question",
        ]  # fmt: skip
    finally:
        for backend in backends.values():
            await backend.aclose()


async def test_concurrent_messages_cannot_all_pass_a_nearly_spent_budget(
    fake: FakeOpenAI, prefix: str, store: Store
) -> None:
    """Replies in progress hold their share (prompt + max_tokens): messages arriving meanwhile are refused."""
    config = make_config(fake.url, prefix, defaults={"daily_token_budget": 500, "max_tokens": 600})
    backends = open_backends(config, os.environ)
    core = Conversation(config=config, store=store, backends=backends)
    threads = [THREAD.__class__("test", "W1", "C1", f"t{n}") for n in range(5)]
    sinks = [RecordingSink() for _ in threads]
    try:
        fake.queue(Reply("a slow but short answer", chunk_size=2, delay=0.3))  # about 3 s: the others arrive meanwhile
        messages = [msg(f"q{n}", thread=thread) for n, thread in enumerate(threads)]
        await asyncio.gather(*(core.receive(m, s) for m, s in zip(messages, sinks, strict=True)))
        answered = [s for s in sinks if s.texts and s.last == "a slow but short answer"]
        refused = [s for s in sinks if s.texts and "nearly spent" in s.last]
        assert len(answered) == 1 and len(refused) == 4, [s.texts for s in sinks]
        assert len(fake.requests) == 1, "one reply at a time may spend the last of the budget"

        totals, _ = await store.channel_usage(day_of(utc_now()), CHANNEL)
        assert totals["prompt"] + totals["completion"] < 500, "the reply used little: the budget is not spent"
        await core.receive(msg("again", thread=threads[1]), sinks[1])
        assert sinks[1].last == "echo: again", "its hold is released once it is written"
    finally:
        for backend in backends.values():
            await backend.aclose()


async def test_a_hold_left_by_a_dead_process_expires(store: Store) -> None:
    clock = Clock(datetime(2026, 3, 14, 12, 0, tzinfo=UTC))
    book = UsageBook(store, clock)
    assert (await book.hold(CHANNEL, 500, 600, seconds=60)).allowed  # never released: the process died
    refused = await book.hold(CHANNEL, 500, 600, seconds=60)
    assert not refused.allowed and "nearly spent (0 used today)" in refused.refusal
    clock.now += timedelta(minutes=2)
    held = await book.hold(CHANNEL, 500, 600, seconds=60)
    assert held.allowed and held.hold is not None
    await book.release(CHANNEL, held.hold)
    assert (await book.hold(CHANNEL, 500, 600, seconds=60)).allowed
    assert (await book.hold(CHANNEL, None, 10**9, seconds=60)).allowed, "no budget: no limit"


async def test_usage_is_estimated_when_the_backend_reports_none(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, backend={"stream_usage": False})
    clock = Clock(datetime(2026, 5, 1, 9, tzinfo=UTC))
    backends = open_backends(config, os.environ)
    core = Conversation(config=config, store=store, backends=backends, clock=clock)
    try:
        await core.receive(msg("count me, roughly"), sink)
    finally:
        for backend in backends.values():
            await backend.aclose()
    assert "stream_options" not in fake.requests[0], "the server was not asked, so it reported nothing"
    totals, _ = await store.channel_usage("2026-05-01", CHANNEL)
    prompt = sum(estimate_tokens(m["content"]) + MESSAGE_OVERHEAD for m in fake.requests[0]["messages"]) + REPLY_PRIMING
    assert totals["prompt"] == prompt
    assert totals["completion"] == estimate_tokens("echo: count me, roughly")
    assert totals["estimated"] == 1


async def test_a_failed_reply_costs_nothing(
    clocked: tuple[Conversation, Clock], fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    core, _ = clocked
    fake.queue(HTTPError(401))
    await core.receive(msg("hi"), sink)
    assert await store.channel_usage("2026-03-14", CHANNEL) == ({}, {})
    await core.receive(msg("/usage"), sink)
    assert sink.last == f"No tokens used in {CHANNEL} on 2026-03-14 (UTC)."


async def test_usage_of_another_day(clocked: tuple[Conversation, Clock], store: Store, sink: RecordingSink) -> None:
    core, _ = clocked
    await UsageBook(store, Clock(datetime(2026, 3, 1, tzinfo=UTC))).record(CHANNEL, "U7", ReplyCost(Usage(3, 4)))
    await core.receive(msg("/usage 2026-03-01"), sink)
    assert "7 tokens (prompt 3, completion 4)" in sink.last and "U7" in sink.last
    await core.receive(msg("/usage yesterday"), sink)
    assert sink.last == "Usage: /usage [YYYY-MM-DD]: 'yesterday' is not a date: write YYYY-MM-DD, e.g. 2026-01-31"


def test_estimates_and_days() -> None:
    assert estimate(40, "abcdefgh") == Usage(40, estimate_tokens("abcdefgh"), estimated=True)
    assert day_of(datetime(2026, 3, 14, 23, 59, tzinfo=UTC)) == "2026-03-14"
    assert day_of(datetime(2026, 3, 15, 1, 0, tzinfo=UTC).astimezone(UTC)) == "2026-03-15"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("14/03/2026")
    report = channel_report(ChannelKey("t", "w", "c"), "2026-03-14", {"prompt": 5, "completion": 1, "replies": 1,
                            "estimated": 1}, {}, 100)  # fmt: skip
    assert "1 with estimated counts" in report and "daily budget: 100 tokens, 94 left" in report


async def test_parley_usage_on_the_command_line(env: dict[str, str], store: Store, prefix: str) -> None:  # noqa: F811
    assert env["PARLEY_REDIS_PREFIX"] == prefix
    day = "2026-02-03"
    other = ChannelKey("slack", "T1", "C2")
    book = UsageBook(store, Clock(datetime(2026, 2, 3, 12, tzinfo=UTC)))
    await book.record(CHANNEL, "U1", ReplyCost(Usage(100, 20)))
    await book.record(other, "U1", ReplyCost(Usage(50, 5), fallback=True))
    await book.record(other, "U2", ReplyCost(Usage(7, 3)))

    code, out, err = await parley("usage", str(other), "--date", day, env=env)
    assert code == 0, err
    assert out.startswith(f"Usage in {other} on {day} (UTC):")
    assert "65 tokens (prompt 57, completion 8)" in out and "1 by a fallback" in out

    code, out, err = await parley("usage", "--date", day, env=env)
    assert code == 0, err
    assert str(CHANNEL) in out and str(other) in out
    assert "slack:U1" in out and "test:U1" in out, "users are named with their platform"

    code, out, _ = await parley("usage", env=env)
    assert code == 0 and "No tokens used on" in out, "today has no usage"

    code, _, err = await parley("usage", "--date", "03.02.2026", env=env)
    assert code == 2 and "YYYY-MM-DD" in err and "Traceback" not in err
