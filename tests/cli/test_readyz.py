"""``/readyz`` of real ``parley run`` and ``parley worker`` processes: 200 only while Redis answers and every
platform is connected, else 503 naming what is not; it follows Redis, Slack's socket and Discord's gateway
as they go and come back."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from tests.support.discord_harness import discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, sigterm, start, user_env
from tests.support.restartable_redis import RestartableRedis
from tests.support.slack_harness import APP_TOKEN, BOT_TOKEN, SECRET, slack

__all__ = ["discord_fake", "slack"]

PATIENCE = 30.0
"""Seconds a test waits for /readyz to say what it expects (a slow machine is no failure)."""


async def readyz_becomes(
    base: str, process: asyncio.subprocess.Process, status: int, body: dict[str, Any]
) -> dict[str, Any]:
    """Poll ``base/readyz`` until it answers ``status`` with a JSON body that holds ``body``'s items; that body."""
    deadline = time.monotonic() + PATIENCE
    last: object = "no answer"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise AssertionError(f"parley exited with {process.returncode}")
            try:
                async with session.get(base + "/readyz") as response:
                    found = await response.json()
                    last = (response.status, found)
                    if response.status == status and found.items() >= body.items():
                        assert isinstance(found, dict)
                        return found
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status} {body}; last: {last}")


async def start_worker(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    return await start("worker", "--host", "127.0.0.1", "--port", str(port), env=env)


async def test_readyz_follows_redis_in_parley_run_and_parley_worker(
    prefix: str, fake: FakeOpenAI, slack: FakeSlack, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    run_port, worker_port = free_port(), free_port()
    run_base, worker_base = f"http://127.0.0.1:{run_port}", f"http://127.0.0.1:{worker_port}"
    async with RestartableRedis(tmp_path / "redis") as server:
        slack_env = user_env(
            server.url, prefix, fake, tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url,
        )  # fmt: skip
        ingress = await start("run", "slack", "--host", "127.0.0.1", "--port", str(run_port), env=slack_env)
        worker = await start_worker(user_env(server.url, prefix, fake, tmp_path, **discord_fake.environ()), worker_port)
        try:
            up = {"ready": True, "redis": True}
            assert await readyz_becomes(run_base, ingress, 200, up) == {**up, "platforms": {"slack": "ready"}}
            found = await readyz_becomes(worker_base, worker, 200, up)
            assert found["platforms"] == {"discord": "ready"}, "its REST login was done before it served"
            assert isinstance(found["worker"], str) and found["worker"], "the worker's consumer name"

            await server.stop()
            down = {"ready": False, "redis": False}
            assert await readyz_becomes(run_base, ingress, 503, down) == {**down, "platforms": {"slack": "ready"}}
            await readyz_becomes(worker_base, worker, 503, {**down, "platforms": {"discord": "ready"}})

            await server.start()
            await readyz_becomes(run_base, ingress, 200, {**up, "platforms": {"slack": "ready"}})
            await readyz_becomes(worker_base, worker, 200, up)
        finally:
            logs = [await sigterm(worker), await sigterm(ingress)]
    for process, (_, log) in zip((worker, ingress), logs, strict=True):
        assert process.returncode == 128 + signal.SIGTERM, log
        assert_clean_exit(log)


async def test_readyz_waits_for_slacks_socket_and_follows_it_after_a_disconnect(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = user_env(
        redis_url, prefix, fake, tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url,
    )  # fmt: skip
    slack.socket_gate = asyncio.Event()  # Slack takes its time to open the socket
    process = await start("run", "slack", "--host", "127.0.0.1", "--port", str(port), env=env)
    try:
        closed = {"ready": False, "redis": True, "platforms": {"slack": "socket not open"}}
        assert await readyz_becomes(base, process, 503, {"ready": False}) == closed
        slack.socket_gate.set()
        await readyz_becomes(base, process, 200, {"ready": True, "redis": True, "platforms": {"slack": "ready"}})

        slack.socket_gate = asyncio.Event()
        await slack.disconnect()  # Slack's "refresh_requested": the client opens a new socket, held this time
        assert await readyz_becomes(base, process, 503, {"ready": False}) == closed
        slack.socket_gate.set()
        await readyz_becomes(base, process, 200, {"ready": True, "platforms": {"slack": "ready"}})
        assert slack.connections >= 2, "a new socket (slack_sdk may open two: its monitor sees the old one closed)"
    finally:
        slack.socket_gate.set()
        _, log = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, log
    assert_clean_exit(log)


async def test_readyz_follows_discords_gateway_until_identified_and_across_drops(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = user_env(redis_url, prefix, fake, tmp_path, **discord_fake.environ())
    discord_fake.identify_gate = asyncio.Event()
    process = await start("run", "discord", "--host", "127.0.0.1", "--port", str(port), env=env)
    try:
        waiting = {"ready": False, "redis": True, "platforms": {"discord": "gateway not connected"}}
        assert await readyz_becomes(base, process, 503, {"ready": False}) == waiting
        discord_fake.identify_gate.set()
        ready = {"ready": True, "redis": True, "platforms": {"discord": "ready"}}
        assert await readyz_becomes(base, process, 200, {"ready": True}) == ready

        discord_fake.resume_gate = asyncio.Event()  # the new connection's RESUME is answered only when set
        await discord_fake.drop()
        dropped = {"ready": False, "redis": True, "platforms": {"discord": "gateway disconnected"}}
        assert await readyz_becomes(base, process, 503, {"ready": False}) == dropped
        discord_fake.resume_gate.set()
        assert await readyz_becomes(base, process, 200, {"ready": True}) == ready
        assert (discord_fake.identifies, discord_fake.resumes) == (1, 1), "back by RESUMED, not a new session"

        discord_fake.refuse_resumes, discord_fake.identify_gate = True, asyncio.Event()  # the session expired
        await discord_fake.drop()
        assert await readyz_becomes(base, process, 503, {"ready": False}) == dropped
        await discord_fake.wait_for(lambda: discord_fake.identifies == 2, what="a new IDENTIFY after Invalid Session")
        assert (await readyz_becomes(base, process, 503, {"ready": False}))["platforms"] == dropped["platforms"]
        discord_fake.identify_gate.set()
        assert await readyz_becomes(base, process, 200, {"ready": True}) == ready, "back by a new READY"
        assert len(discord_fake.bad_resumes) == 1
    finally:
        for gate in (discord_fake.identify_gate, discord_fake.resume_gate):
            if gate is not None:
                gate.set()
        _, log = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, log
    assert_clean_exit(log)
