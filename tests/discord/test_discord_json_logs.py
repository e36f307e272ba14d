"""JSON logs of ``parley run discord``: every stderr line a JSON object, one trace id from the gateway's accept line
to the worker's answering, backend and reply lines, and no message text at INFO."""

from __future__ import annotations

import signal
from pathlib import Path

from redis.asyncio import Redis

from tests.support.config import TEST_KEY
from tests.support.discord_harness import discord_fake
from tests.support.fake_discord import TOKEN, FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.json_logs import (
    ANSWER,
    QUESTION,
    accepted,
    assert_follows_the_message,
    assert_no_text_at_info,
    json_lines,
    of_trace,
)
from tests.support.parley_process import assert_clean_exit, sigterm, start, user_env

__all__ = ["discord_fake"]


async def test_a_mention_is_followed_by_one_trace_in_json_lines(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    fake.queue(Reply(ANSWER, chunk_size=8))
    env = user_env(redis_url, prefix, fake, tmp_path, **discord_fake.environ())
    process = await start("run", "discord", "--port", "0", "--log-format", "json", "-v", env=env)
    try:
        await discord_fake.wait_connected()
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice,
                                              f"{discord_fake.mention} {QUESTION}")  # fmt: skip
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [ANSWER], what="the answer")
    finally:
        _, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err, TEST_KEY, TOKEN)
    lines = json_lines(err)
    assert_no_text_at_info(lines)
    assert_follows_the_message(of_trace(lines, accepted(lines, "discord", mid)["trace_id"]))
