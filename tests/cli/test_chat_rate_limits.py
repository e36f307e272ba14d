"""``parley chat`` counts lines against the request rate limits like any platform's messages."""

from __future__ import annotations

from tests.support.fake_openai import FakeOpenAI
from tests.support.parley_process import env, parley

__all__ = ["env"]


async def test_a_line_over_the_limit_gets_the_notice_and_the_exit_status_is_1(
    env: dict[str, str], fake: FakeOpenAI
) -> None:
    env = {**env, "PARLEY_RATE_LIMITS__USER_PER_MINUTE": "2"}
    code, out, err = await parley("chat", env=env, stdin="one\ntwo\n/show\nthree\n")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[:2] == ["echo: one", "echo: two"]
    assert any(line.startswith("Settings for") for line in lines), "a command is not limited"
    assert lines[-1].startswith("You are sending messages faster than parley answers them (2 a minute).")
    assert len(fake.requests) == 2, "the model is not called"


async def test_zero_turns_the_limit_off(env: dict[str, str], fake: FakeOpenAI) -> None:
    env = {**env, "PARLEY_RATE_LIMITS__USER_PER_MINUTE": "0", "PARLEY_RATE_LIMITS__CHANNEL_PER_MINUTE": "0"}
    code, out, err = await parley("chat", env=env, stdin="".join(f"line {n}\n" for n in range(25)))
    assert code == 0, err
    assert out.splitlines()[-1] == "echo: line 24"
    assert len(fake.requests) == 25
