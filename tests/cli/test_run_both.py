"""Plain ``parley run`` with Slack (Socket Mode) and Discord both configured: one process serves both."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from redis.asyncio import Redis

from tests.support.config import TEST_KEY
from tests.support.discord_harness import discord_fake
from tests.support.fake_discord import TOKEN, FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, finish, healthz, sigterm, start, user_env
from tests.support.slack_harness import APP_TOKEN, BOT_TOKEN, CHANNEL, envelope, mention, slack, until

__all__ = ["discord_fake", "slack"]


def both_env(
    redis_url: str, prefix: str, fake: FakeOpenAI, slack: FakeSlack, discord: FakeDiscord, home: Path
) -> dict[str, str]:
    return user_env(
        redis_url, prefix, fake, home,
        PYTHONWARNINGS="default",  # unclosed sockets and sessions show as ResourceWarnings
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url,
        **discord.environ(),
    )  # fmt: skip


SECRETS = (TOKEN, BOT_TOKEN, APP_TOKEN, TEST_KEY)


async def test_plain_run_serves_slack_and_discord_and_stops_on_sigterm(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, discord_fake: FakeDiscord,
    tmp_path: Path,
) -> None:  # fmt: skip
    port = free_port()
    env = both_env(redis_url, prefix, fake, slack, discord_fake, tmp_path)
    process = await start("run", "--host", "127.0.0.1", "--port", str(port), "-vv", env=env)
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
    finally:
        _, log = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, log
    assert_clean_exit(log, *SECRETS)
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
    process = await start("run", "--host", "127.0.0.1", "--port", str(free_port()), "-vv", env=env)
    try:
        await slack.wait_connected()
        discord_fake.identify_gate.set()
    finally:
        _, log = await finish(process)
    assert process.returncode == 2, log
    assert log.rstrip().splitlines()[-1].startswith("parley: Discord refused the Message Content intent"), log
    assert "Privileged Gateway Intents -> Message Content Intent" in log
    assert_clean_exit(log, *SECRETS)
    await until(lambda: slack.socket_closes == [1000], what="Slack's socket to be closed normally")
