"""The ``[queue]`` table: defaults, the environment, and errors that say what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config import load
from bot.config import ConfigError

BACKEND = {"OPENAI_API_KEY": "sk-test"}


def test_the_defaults() -> None:
    queue = load(None, BACKEND).queue
    assert (queue.reclaim_after, queue.max_attempts, queue.drain_seconds, queue.shards, queue.concurrency) == (
        30,
        3,
        20,
        1,
        100,
    )


def test_the_environment_sets_each_key() -> None:
    values = {"RECLAIM_AFTER": "2.5", "MAX_ATTEMPTS": "5", "DRAIN_SECONDS": "8", "SHARDS": "4", "CONCURRENCY": "7"}
    environ = {**BACKEND, **{f"PARLEY_QUEUE__{key}": value for key, value in values.items()}}
    queue = load(None, environ).queue
    assert (queue.reclaim_after, queue.max_attempts, queue.drain_seconds, queue.shards, queue.concurrency) == (
        2.5,
        5,
        8,
        4,
        7,
    )


def test_errors_say_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text("[queue]\nreclaim = 3\nshards = 0\n")
    with pytest.raises(ConfigError) as error:
        load(path, BACKEND)
    message = str(error.value)
    assert "[queue] shards: Input should be greater than or equal to 1 (got 0)" in message
    assert (
        "[queue] reclaim: unknown key; allowed here: reclaim_after, max_attempts, drain_seconds, shards, concurrency"
        in message
    )
    with pytest.raises(ConfigError) as error:
        load(None, {**BACKEND, "PARLEY_QUEUE__RECLAIM_AFTER": "0"})
    assert (
        "[queue] reclaim_after (from the environment: PARLEY_QUEUE__RECLAIM_AFTER): Input should be greater than 0"
        in str(error.value)
    )
