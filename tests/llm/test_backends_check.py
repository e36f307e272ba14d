"""`parley backends check` as an admin runs it: a real process against loopback fakes of each API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.llm.base import BackendError
from bot.llm.check import reason
from tests.support.config import TEST_KEY
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI
from tests.support.net import free_port
from tests.support.parley_process import parley

WRONG_KEY = "sk-ant-wrong-0123456789-SECRET"
URL = "https://api.example.com/v1"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (BackendError("auth", "HTTP 401", status=401), "the backend rejected the API key (HTTP 401)"),
        (BackendError("auth", "unset"), "no API key: the environment variable MY_KEY is not set"),
        (BackendError("unknown_model", "x", status=404), "the backend does not know the model 'm-1' (HTTP 404)"),
        (BackendError("unavailable", "refused"), f"unreachable: nothing answers at {URL}"),
        (BackendError("unavailable", "x", status=503), f"the server at {URL} is failing (HTTP 503)"),
        (BackendError("rate_limited", "x", status=429), "rate limited (HTTP 429)"),
        (BackendError("timeout", "x"), f"no answer from {URL} in time"),
        (
            BackendError("rejected", "Unknown parameter: 'stream_options'", status=400),
            "refuses stream_options (HTTP 400): set stream_usage = false",
        ),
        (BackendError("rejected", "Incorrect key sk-SECRET", status=400), "rejected the request (HTTP 400)"),
    ],
)
def test_each_failure_has_a_reason_an_admin_can_act_on(error: BackendError, expected: str) -> None:
    text = reason(error, "m-1", URL, "MY_KEY")
    assert expected in text
    assert "SECRET" not in text, "never the server's own words"


@pytest_asyncio.fixture
async def claude() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic(models=["claude-fake-1"]) as server:
        server.api_key = TEST_KEY
        yield server


def environment(tmp_path: Path, config: str) -> dict[str, str]:
    path = tmp_path / "parley.toml"
    path.write_text(config)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PARLEY_CONFIG": str(path),
        "GOOD_KEY": TEST_KEY,
        "WRONG_KEY": WRONG_KEY,
    }


def lines_by_backend(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()}


async def test_every_backend_works(tmp_path: Path, fake: FakeOpenAI, claude: FakeAnthropic) -> None:
    env = environment(
        tmp_path,
        f'[backends.local]\nbase_url = "{fake.url}"\n\n'
        f'[backends.claude]\ntype = "anthropic"\nbase_url = "{claude.url}"\napi_key_env = "GOOD_KEY"\n'
        'model = "claude-fake-1"\nthinking_budget = 4000\n\n'
        f'[backends.azure]\ntype = "azure"\nbase_url = "{fake.azure_url}"\ndeployment = "fake-deployment"\n'
        'api_key_env = "GOOD_KEY"\n',
    )
    code, out, err = await parley("backends", "check", env=env)
    assert code == 0, out + err
    lines = lines_by_backend(out)
    assert list(lines) == ["local", "claude", "azure"], "one line per backend, in config order"
    assert "OK" in lines["local"] and "fake-model" in lines["local"] and " ms" in lines["local"]
    assert "OK" in lines["claude"] and "claude-fake-1" in lines["claude"]
    assert "OK" in lines["azure"] and "fake-deployment" in lines["azure"]
    assert claude.requests[0]["max_tokens"] == 1 and fake.requests[0]["max_tokens"] == 1
    assert "thinking" not in claude.requests[0], "a one-token probe, not one of thinking_budget + 1 tokens"


async def test_broken_backends_say_why(tmp_path: Path, fake: FakeOpenAI, claude: FakeAnthropic) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    env = environment(
        tmp_path,
        f'[backends.good]\nbase_url = "{fake.url}"\nmodel = "fake-model"\n\n'
        f'[backends.badkey]\ntype = "anthropic"\nbase_url = "{claude.url}"\napi_key_env = "WRONG_KEY"\n'
        'model = "claude-fake-1"\n\n'
        f'[backends.nomodel]\ntype = "anthropic"\nbase_url = "{claude.url}"\napi_key_env = "GOOD_KEY"\n'
        'model = "claude-imaginary-7"\n\n'
        f'[backends.gone]\nbase_url = "{nowhere}"\nmodel = "m"\nmax_retries = 0\n\n'
        f'[backends.nokey]\ntype = "anthropic"\nbase_url = "{claude.url}"\napi_key_env = "UNSET_KEY"\n'
        'model = "claude-fake-1"\n\n'
        f'[backends.nov1]\nbase_url = "{fake.azure_url}"\nmodel = "fake-model"\n\n'
        f'[backends.nodeployment]\ntype = "azure"\nbase_url = "{fake.azure_url}"\ndeployment = "gpt-imaginary"\n'
        'api_key_env = "GOOD_KEY"\n',
    )
    code, out, err = await parley("backends", "check", env=env)
    assert code == 1, out + err
    lines = lines_by_backend(out)
    assert "OK" in lines["good"]
    assert "FAILED" in lines["badkey"] and "the backend rejected the API key" in lines["badkey"]
    assert "FAILED" in lines["nomodel"] and "does not know the model 'claude-imaginary-7'" in lines["nomodel"]
    assert "FAILED" in lines["gone"] and f"unreachable: nothing answers at {nowhere}" in lines["gone"]
    assert "FAILED" in lines["nokey"] and "UNSET_KEY is not set" in lines["nokey"]
    assert "FAILED" in lines["nov1"] and f"nothing answers this API at {fake.azure_url}" in lines["nov1"]
    assert "check base_url" in lines["nov1"] and "does not know the model" not in lines["nov1"]
    assert "FAILED" in lines["nodeployment"] and "does not know the model 'gpt-imaginary'" in lines["nodeployment"]
    assert WRONG_KEY not in out + err and TEST_KEY not in out + err and "SECRET" not in out + err
    assert "Traceback" not in err

    code, out, err = await parley("backends", "check", "-v", env=env)
    assert code == 1 and "401" in err and "invalid x-api-key" in err, "the log has the server's detail"
    assert "SECRET" not in out + err
