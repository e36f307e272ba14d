"""Plain ``parley run`` with Slack (Socket Mode) and Discord both configured: one process serves both."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from conftest import TEST_KEY, free_port
from discord_harness import discord_fake
from fake_discord import TOKEN, FakeDiscord
from fake_openai import FakeOpenAI, Reply
from fake_slack import FakeSlack
from redis.asyncio import Redis
from slack_harness import APP_TOKEN, BOT_TOKEN, CHANNEL, envelope, mention, until
from test_cli import PARLEY

__all__ = ["discord_fake"]


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


def both_env(
    redis_url: str, prefix: str, fake: FakeOpenAI, slack: FakeSlack, discord: FakeDiscord, home: Path
) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "REDIS_URL": redis_url,
        "PARLEY_REDIS_PREFIX": prefix,
        "PARLEY_DATA_DIR": str(home / "data"),
        "OPENAI_BASE_URL": fake.url,
        "OPENAI_API_KEY": TEST_KEY,
        "PYTHONWARNINGS": "default",  # unclosed sockets and sessions show as ResourceWarnings
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": slack.api_url,
        **discord.environ(),
    }


async def start(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        PARLEY, "run", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=env["HOME"],
    )  # fmt: skip


async def healthz(base: str, process: asyncio.subprocess.Process) -> object:
    async with aiohttp.ClientSession() as session:
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
    raise AssertionError("parley run never answered /healthz")


def assert_clean(log: str) -> None:
    for warning in ("traceback", "unclosed", "task was destroyed", "never awaited"):
        assert warning not in log.lower(), log
    for secret in (TOKEN, BOT_TOKEN, APP_TOKEN, TEST_KEY):
        assert secret not in log, "a token in the log"


async def test_plain_run_serves_slack_and_discord_and_stops_on_sigterm(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, discord_fake: FakeDiscord,
    tmp_path: Path,
) -> None:  # fmt: skip
    port = free_port()
    env = both_env(redis_url, prefix, fake, slack, discord_fake, tmp_path)
    process = await start(env, "--host", "127.0.0.1", "--port", str(port), "-vv")
    try:
        health = await healthz(f"http://127.0.0.1:{port}", process)
        assert health == {"ok": True, "redis": True, "platforms": ["slack", "discord"]}

        event = mention("hello from Slack")
        await slack.socket_event(envelope(event))
        await discord_fake.wait_connected()
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
        await until(lambda: any(m.text == "echo: hello from Slack" for m in slack.thread(CHANNEL, event["ts"])))
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"], what="Discord's answer")
        # SIGTERM with a reply under way on each platform: Slack's is given time to finish, Discord's is cut
        fake.queue(Reply("slow " * 40, chunk_size=5, delay=0.05))
        slow = mention("a slow one")
        await slack.socket_event(envelope(slow))
        await until(lambda: len(slack.thread(CHANNEL, slow["ts"])) == 1, what="Slack's reply to start")
        fake.queue(Reply("slow " * 400, chunk_size=5, delay=0.05))
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
        await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="Discord's reply to start")
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = err.decode()
    assert process.returncode == 128 + signal.SIGTERM, log
    assert_clean(log)
    assert "parley is running slack, discord" in log
    assert "Slack: connected in Socket Mode" in log and "discord.gateway" in log, "both connected (debug log on)"
    assert discord_fake.gateway_closes == [1000], "Discord's gateway was closed normally"
    await until(lambda: slack.socket_closes == [1000], what="Slack's socket to be closed normally")
    assert slack.thread(CHANNEL, slow["ts"])[-1].text == ("slow " * 40).strip(), "Slack's reply was finished"
    assert "Slack: finishing 1 reply(ies) before stopping" in log


async def test_one_platform_refused_stops_the_other_cleanly_and_says_why(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, discord_fake: FakeDiscord,
    tmp_path: Path,
) -> None:  # fmt: skip
    discord_fake.refuse_intents = True
    discord_fake.identify_gate = asyncio.Event()  # Discord answers only once Slack is connected
    env = both_env(redis_url, prefix, fake, slack, discord_fake, tmp_path)
    process = await start(env, "--host", "127.0.0.1", "--port", str(free_port()), "-vv")
    try:
        await slack.wait_connected()
        discord_fake.identify_gate.set()
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = err.decode()
    assert process.returncode == 2, log
    assert log.rstrip().splitlines()[-1].startswith("parley: Discord refused the Message Content intent"), log
    assert "Privileged Gateway Intents -> Message Content Intent" in log
    assert_clean(log)
    await until(lambda: slack.socket_closes == [1000], what="Slack's socket to be closed normally")
