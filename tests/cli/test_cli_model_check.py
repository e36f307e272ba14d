"""``parley channel set CHANNEL model NAME`` checks the model against the backend's list, as /set does."""

from __future__ import annotations

from tests.support.fake_openai import FakeOpenAI
from tests.support.parley_process import env, parley

__all__ = ["env"]


async def test_the_command_line_checks_a_model_too(env: dict[str, str], fake: FakeOpenAI) -> None:
    fake.models = ["fake-model", "other-model"]
    code, out, err = await parley("channel", "set", "slack:T1/C1", "model", "gpt-9", env=env)
    assert code == 1 and out == ""
    assert "Not changed: model: backend openai does not list 'gpt-9'" in err and "other-model" in err
    code, out, err = await parley("channel", "set", "slack:T1/C1", "model", "other-model", env=env)
    assert (code, out) == (0, "model is now other-model in slack:T1/C1.\n"), err
    code, out, err = await parley("config", "show", "slack:T1/C2", env=env)
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "fake-model" in lines["model"] and "the first its server lists" in lines["model"], out
