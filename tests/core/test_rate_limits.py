"""Request rate limits per user and per channel (``[rate_limits]``): counted in Redis, a short notice when hit,
the model not called, nothing stored; commands are not limited."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import Config, ConfigError, load_config
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.messages import CommandStyle
from bot.rate_limits import RateLimitsConfig
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.messages import THREAD, msg
from tests.support.recording_sink import RecordingSink

OTHER_CHANNEL = ThreadKey("test", "W1", "C2", "t1")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 14, 12, 0, tzinfo=UTC))


@pytest.fixture
def limits() -> dict[str, int]:
    return {"user_per_minute": 3, "channel_per_minute": 5}


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str, limits: dict[str, int]) -> Config:
    return make_config(fake.url, prefix, rate_limits=RateLimitsConfig(**limits))


@pytest_asyncio.fixture
async def core(config: Config, store: Store, clock: Clock) -> AsyncIterator[Conversation]:
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends, clock=clock)
    for backend in backends.values():
        await backend.aclose()


def user_notice(seconds: int) -> str:
    return (
        f"You are sending messages faster than parley answers them (3 a minute). Please try again in {seconds} seconds."
    )


async def test_a_user_over_the_limit_is_told_when_to_try_again_and_the_model_is_not_called(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink, clock: Clock
) -> None:
    for number in range(3):
        await core.receive(msg(f"question {number}"), sink)
        clock.advance(10)
    assert len(fake.requests) == 3
    before = await store.thread_messages(THREAD)

    await core.receive(msg("one more"), sink)
    assert sink.last == user_notice(30), "the first of the three leaves the window 60 s after it came"
    assert len(fake.requests) == 3, "the model is not called"
    assert await store.thread_messages(THREAD) == before, "nothing is stored"

    clock.advance(30)
    await core.receive(msg("now?"), sink)
    assert sink.last == "echo: now?"
    assert len(fake.requests) == 4


async def test_the_limit_is_per_user(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    for number in range(3):
        await core.receive(msg(f"from U1 {number}"), sink)
    await core.receive(msg("from U1 again"), sink)
    assert sink.last == user_notice(60)
    await core.receive(msg("from U2", user="U2"), sink)
    assert sink.last == "echo: from U2"
    assert len(fake.requests) == 4


async def test_the_channel_limit_counts_every_user_of_the_channel(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink, clock: Clock
) -> None:
    for number in range(5):
        await core.receive(msg(f"question {number}", user=f"U{number}"), sink)
        clock.advance(1)
    await core.receive(msg("a sixth", user="U9"), sink)
    assert sink.last == (
        "This channel is sending parley more messages than it answers (5 a minute). Please try again in 55 seconds."
    )
    assert len(fake.requests) == 5
    await core.receive(msg("elsewhere", user="U9", thread=OTHER_CHANNEL), sink)
    assert sink.last == "echo: elsewhere", "another channel has a window of its own"


async def test_a_refused_message_counts_against_neither_window(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    """U1 hits the user limit: those refusals leave room in the channel for the others."""
    for number in range(3):
        await core.receive(msg(f"U1 {number}"), sink)
    for number in range(4):
        await core.receive(msg(f"U1 refused {number}"), sink)
    await core.receive(msg("U2 first", user="U2"), sink)
    await core.receive(msg("U2 second", user="U2"), sink)
    assert sink.last == "echo: U2 second"
    assert len(fake.requests) == 5


async def test_commands_are_not_limited(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    for number in range(3):
        await core.receive(msg(f"question {number}"), sink)
    for _ in range(5):
        await core.receive(msg("/show"), sink)
        assert sink.last.startswith("Settings for test:W1/C1")
    await core.receive(msg("/reset"), sink)
    assert "try again" not in sink.last
    assert len(fake.requests) == 3


async def test_messages_parley_does_not_answer_are_not_counted(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    for number in range(5):
        await core.receive(msg(f"chatter {number}", mentioned=False), sink)
    for number in range(3):
        await core.receive(msg(f"question {number}"), sink)
    assert sink.texts[-1] == "echo: question 2"
    assert len(fake.requests) == 3


async def test_the_notice_is_phrased_for_the_platform_and_the_turn_is_logged_as_rate_limited(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    style = CommandStyle(prefix="/parley ", reset="@parley reset")
    for number in range(3):
        await core.receive(msg(f"question {number}"), sink)
    with caplog.at_level(logging.INFO, logger="bot.rate_limits"):
        await core.receive(dataclasses.replace(msg("too many"), style=style), sink)
    assert sink.last == user_notice(60)
    assert any("rate-limited" in record.getMessage() and "user limit of 3" in record.getMessage()
               for record in caplog.records)  # fmt: skip


async def test_concurrent_messages_cannot_all_pass(core: Conversation, fake: FakeOpenAI, store: Store) -> None:
    sinks = [RecordingSink() for _ in range(10)]
    threads = [ThreadKey("test", "W1", "C1", f"t{number}") for number in range(10)]
    await asyncio.gather(*(core.receive(msg(f"q{n}", thread=threads[n]), sinks[n]) for n in range(10)))
    answered = [sink for sink in sinks if sink.last.startswith("echo:")]
    assert len(answered) == 3
    assert len(fake.requests) == 3
    assert sum("Please try again" in sink.last for sink in sinks) == 7


async def test_the_windows_are_shared_by_every_process_on_one_redis(
    config: Config, store: Store, fake: FakeOpenAI, clock: Clock, sink: RecordingSink
) -> None:
    """Two cores (two processes' worth) on one Redis count in the same windows."""
    backends = open_backends(config, os.environ)
    first = Conversation(config=config, store=store, backends=backends, clock=clock)
    second = Conversation(config=config, store=Store(store.redis, store.prefix), backends=backends, clock=clock)
    try:
        await first.receive(msg("one"), sink)
        await second.receive(msg("two"), sink)
        await first.receive(msg("three"), sink)
        await second.receive(msg("four"), sink)
        assert sink.last == user_notice(60)
        assert len(fake.requests) == 3
    finally:
        for backend in backends.values():
            await backend.aclose()


async def test_the_windows_expire_in_redis(core: Conversation, store: Store, sink: RecordingSink) -> None:
    await core.receive(msg("one"), sink)
    keys = [key async for key in store.redis.scan_iter(f"{store.prefix}:rate-*")]
    assert sorted(key.decode() for key in keys) == [
        f"{store.prefix}:rate-channel:test:W1/C1",
        f"{store.prefix}:rate-user:test:U1",
    ]
    for key in keys:
        assert 0 < await store.redis.pttl(key) <= 60_000


@pytest.mark.parametrize("limits", [{"user_per_minute": 0, "channel_per_minute": 0}])
async def test_zero_turns_a_limit_off(core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink) -> None:
    for number in range(25):
        await core.receive(msg(f"question {number}"), sink)
    assert len(fake.requests) == 25
    assert [key async for key in store.redis.scan_iter(f"{store.prefix}:rate-*")] == []


@pytest.mark.parametrize("limits", [{"user_per_minute": 0, "channel_per_minute": 2}])
async def test_one_limit_off_leaves_the_other(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    for number in range(3):
        await core.receive(msg(f"question {number}"), sink)
    assert sink.last.startswith("This channel is sending parley more messages than it answers (2 a minute).")
    assert len(fake.requests) == 2


# --- configuration ---------------------------------------------------------------------------------------


def test_the_defaults_are_twenty_a_user_and_a_hundred_and_twenty_a_channel() -> None:
    assert Config().rate_limits == RateLimitsConfig(user_per_minute=20, channel_per_minute=120)


def test_the_table_and_its_environment_variables(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text("[rate_limits]\nuser_per_minute = 5\n")
    config = load_config(path, {"PARLEY_RATE_LIMITS__CHANNEL_PER_MINUTE": "0"})
    assert config.rate_limits == RateLimitsConfig(user_per_minute=5, channel_per_minute=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[rate_limits]\nuser_per_minute = -1\n",
         "[rate_limits] user_per_minute: a whole number of messages a minute, from 0 (no limit) to 100000 (got -1)"),
        ("[rate_limits]\nchannel_per_minute = 1000001\n",
         "[rate_limits] channel_per_minute: a whole number of messages a minute, from 0 (no limit) to 100000 "
         "(got 1000001)"),
        ('[rate_limits]\nuser_per_minute = "many"\n', "[rate_limits] user_per_minute: Input should be a valid integer"),
        ("[rate_limits]\nper_user = 3\n",
         "[rate_limits] per_user: unknown key; allowed here: user_per_minute, channel_per_minute"),
    ],
)  # fmt: skip
def test_bad_values_say_what_is_allowed(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "parley.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, {})
    assert expected in str(error.value)
