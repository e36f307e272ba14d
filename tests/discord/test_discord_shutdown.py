"""``parley run discord`` as a user runs it: no secret in its log; on SIGTERM it closes its connections cleanly."""

from __future__ import annotations

import signal
from pathlib import Path

from redis.asyncio import Redis

from tests.support.discord_harness import discord_fake
from tests.support.fake_discord import TOKEN, FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.parley_process import assert_clean_exit, sigterm, start, user_env

__all__ = ["discord_fake"]


async def test_debug_log_holds_no_token_and_sigterm_mid_reply_closes_the_gateway_cleanly(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    # PYTHONWARNINGS=default: unclosed sockets and sessions show as ResourceWarnings
    env = user_env(redis_url, prefix, fake, tmp_path, PYTHONWARNINGS="default", **discord_fake.environ())
    process = await start("run", "discord", "-vv", "--host", "127.0.0.1", "--port", "0", env=env)
    try:
        await discord_fake.wait_connected()
        interaction = await discord_fake.slash(discord_fake.general, discord_fake.alice, "help")  # answered in two
        await discord_fake.wait_for(lambda: len(discord_fake.interaction_answers[interaction]) == 2)
        fake.queue(Reply("slow " * 400, chunk_size=5, delay=0.05))
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
        await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="the reply to start")
    finally:
        _, text = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, text
    assert_clean_exit(text, TOKEN)
    assert TOKEN.lower() not in text.lower()
    assert f"/interactions/{interaction}/***/callback" in text, "discord.py's debug log showed the URL, masked"
    assert "interaction-token-" not in text, "an interaction token answers as the bot: never in the log"
    assert discord_fake.gateway_closes == [1000], "the gateway was closed normally (the bot goes offline at once)"
