"""Start-up, the same rule as Discord's: a Slack Web API nobody answers at stops `parley run` (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.parley_process import parley
from tests.support.slack_harness import APP_TOKEN, BOT_TOKEN, SECRET


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param({"SLACK_SIGNING_SECRET": SECRET}, id="http"),
        pytest.param({"SLACK_APP_TOKEN": APP_TOKEN}, id="socket-mode"),
    ],
)
async def test_an_unreachable_slack_api_stops_parley_run(redis_url: str, tmp_path: Path, mode: dict[str, str]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "REDIS_URL": redis_url,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": nowhere, **mode,
    }  # fmt: skip
    code, out, err = await parley("run", "slack", "--host", "127.0.0.1", "--port", str(free_port()), env=env)
    assert code == 2, err
    assert f"cannot reach Slack's Web API at {nowhere}" in err and "SLACK_API_URL" in err
    assert "going on" not in err and "Traceback" not in err
    assert BOT_TOKEN not in err + out and APP_TOKEN not in err + out
