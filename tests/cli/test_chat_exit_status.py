"""What ``parley chat`` tells a script: its exit status, and a failure's notice that says what to fix."""

from __future__ import annotations

import pytest

from bot.notices import FAILURES, UNREACHABLE
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply
from tests.support.net import free_port
from tests.support.parley_process import env, parley

__all__ = ["env"]


async def test_every_turn_answered_exits_0(env: dict[str, str], fake: FakeOpenAI) -> None:
    code, out, err = await parley("chat", env=env, stdin="one\n/set temperature 7\ntwo\n")
    assert code == 0, err
    assert out.startswith("echo: one\nNot changed: temperature"), "a refused command is answered, not failed"


async def test_a_failed_turn_makes_the_exit_status_1(env: dict[str, str], fake: FakeOpenAI) -> None:
    fake.queue(Reply("fine"), *[HTTPError(503)] * 4, Reply("fine again"))  # max_retries 3
    code, out, err = await parley("chat", env=env, stdin="one\ntwo\nthree\n")
    assert code == 1, err
    assert out == f"fine\n{FAILURES['unavailable']}\nfine again\n"


async def test_every_turn_failed_exits_1(env: dict[str, str], fake: FakeOpenAI) -> None:
    fake.queue(*[HTTPError(401)] * 2)
    code, out, err = await parley("chat", env=env, stdin="one\ntwo\n")
    assert code == 1, err
    assert out == f"{FAILURES['auth']}\n" * 2


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param(f"http://127.0.0.1:{free_port()}/v1", id="refused-connection"),
        pytest.param("http://parley-no-such-host.invalid/v1", id="dns-failure"),
    ],
)
async def test_a_backend_nobody_answers_at_is_the_configuration_s_to_fix(env: dict[str, str], base_url: str) -> None:
    env = {**env, "OPENAI_BASE_URL": base_url, "PARLEY_BACKENDS__OPENAI__MAX_RETRIES": "0"}
    code, out, err = await parley("chat", env=env, stdin="hello?\n")
    assert code == 1, err
    assert out == f"{UNREACHABLE}\n"
    assert "try again in a minute" not in out and "base_url" in out
