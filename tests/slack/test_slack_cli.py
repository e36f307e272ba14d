"""`parley run slack` as a user runs it: a real process, FakeSlack, the fake LLM, real Redis."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, healthz, parley, sigterm, start, user_env
from tests.support.slack_harness import (
    APP_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    SECRET,
    envelope,
    mention,
    signed_headers,
    slack,
    until,
)

__all__ = ["slack"]


async def test_parley_run_slack_serves_and_stops_on_sigterm(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    env = user_env(
        redis_url, prefix, fake, tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url,
        PARLEY_SLACK__EDIT_INTERVAL="0.05",
    )  # fmt: skip
    process = await start("run", "slack", "--host", "127.0.0.1", "--port", str(port), "-vv", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        health = await healthz(base, process)
        assert health == {"ok": True, "redis": True, "platforms": ["slack"]}
        async with aiohttp.ClientSession() as session:
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
        out, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err)
    assert "Slack: signed in as parley in Test" in err, "the token was checked at start"
    assert SECRET not in err + out and BOT_TOKEN not in err + out


async def test_parley_run_slack_in_socket_mode_answers_and_stops_on_sigterm(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    env = user_env(
        redis_url, prefix, fake, tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url,
    )  # fmt: skip
    del env["OPENAI_API_KEY"]  # a local model needs none
    process = await start("run", "--host", "127.0.0.1", "--port", str(free_port()), "-vv", env=env)
    try:
        event = mention("over the socket, from a process")
        await slack.socket_event(envelope(event))
        await until(lambda: any(m.text.startswith("echo: over the socket") for m in slack.thread(CHANNEL, event["ts"])))
    finally:
        _, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err, APP_TOKEN, BOT_TOKEN)


async def test_parley_run_slack_without_a_signing_secret_says_what_to_set(redis_url: str, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "REDIS_URL": redis_url,
           "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "SLACK_BOT_TOKEN": BOT_TOKEN}  # fmt: skip
    code, _, err = await parley("run", "slack", "--port", str(free_port()), env=env)
    assert code == 2
    assert "SLACK_SIGNING_SECRET" in err and "SLACK_APP_TOKEN" in err
    assert "Traceback" not in err
