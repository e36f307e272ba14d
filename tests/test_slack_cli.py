"""`parley run slack` as a user runs it: a real process, FakeSlack, the fake LLM, real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from conftest import TEST_KEY, free_port
from fake_openai import FakeOpenAI
from fake_slack import FakeSlack
from redis.asyncio import Redis
from slack_harness import APP_TOKEN, BOT_TOKEN, CHANNEL, SECRET, envelope, mention, signed_headers, until

PARLEY = str(Path(sys.executable).parent / "parley")


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


async def test_parley_run_slack_serves_and_stops_on_sigterm(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "REDIS_URL": redis_url,
        "PARLEY_REDIS_PREFIX": prefix,
        "OPENAI_BASE_URL": fake.url,
        "OPENAI_API_KEY": TEST_KEY,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "PARLEY_SLACK__EDIT_INTERVAL": "0.05",
    }
    process = await asyncio.create_subprocess_exec(
        PARLEY, "run", "slack", "--host", "127.0.0.1", "--port", str(port), "-vv",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=tmp_path,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            health = await _healthz(session, base, process)
            assert health == {"ok": True, "redis": True, "platforms": ["slack"]}

            body = json.dumps({"type": "url_verification", "challenge": "c-42", "token": "t"})
            headers = {"Content-Type": "application/json", **signed_headers(body)}
            async with session.post(base + "/slack/events", data=body, headers=headers) as response:
                assert (response.status, await response.json()) == (200, {"challenge": "c-42"})

            event = mention("hello from a process")
            body = json.dumps(envelope(event))
            headers = {"Content-Type": "application/json", **signed_headers(body)}
            async with session.post(base + "/slack/events", data=body, headers=headers) as response:
                assert response.status == 200
            await until(lambda: any(m.text == "echo: hello from a process" for m in slack.thread(CHANNEL, event["ts"])))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err.decode()
    assert "Traceback" not in err.decode(), err.decode()
    assert not any(w in err.decode() for w in ("Unclosed", "Task was destroyed", "never awaited")), err.decode()
    assert "Slack: signed in as parley in Test" in err.decode(), "the token was checked at start"
    assert SECRET not in err.decode() + out.decode() and BOT_TOKEN not in err.decode() + out.decode()


async def test_parley_run_slack_in_socket_mode_answers_and_stops_on_sigterm(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "REDIS_URL": redis_url,
        "PARLEY_REDIS_PREFIX": prefix,
        "OPENAI_BASE_URL": fake.url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": slack.api_url,
    }
    process = await asyncio.create_subprocess_exec(
        PARLEY, "run", "--host", "127.0.0.1", "--port", str(free_port()), "-vv",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        event = mention("over the socket, from a process")
        await slack.socket_event(envelope(event))
        await until(lambda: any(m.text.startswith("echo: over the socket") for m in slack.thread(CHANNEL, event["ts"])))
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err.decode()
    assert "Traceback" not in err.decode()
    assert not any(w in err.decode() for w in ("Unclosed", "Task was destroyed", "never awaited")), err.decode()
    assert APP_TOKEN not in err.decode() and BOT_TOKEN not in err.decode()


async def _healthz(session: aiohttp.ClientSession, base: str, process: asyncio.subprocess.Process) -> object:
    for _ in range(600):
        if process.returncode is not None:
            raise AssertionError(f"parley exited with {process.returncode}")
        try:
            async with session.get(base + "/healthz") as response:
                if response.status == 200:
                    return await response.json()
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("parley run slack never answered /healthz")


async def test_parley_run_slack_without_a_signing_secret_says_what_to_set(redis_url: str, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "REDIS_URL": redis_url,
           "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SLACK_BOT_TOKEN": BOT_TOKEN}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        PARLEY, "run", "slack", "--port", str(free_port()),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "SLACK_SIGNING_SECRET" in err.decode() and "SLACK_APP_TOKEN" in err.decode()
    assert "Traceback" not in err.decode()
