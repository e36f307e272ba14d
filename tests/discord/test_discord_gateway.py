"""Connection-level behaviour of the Discord adapter: resume after a drop, 429s, refused intents, bad tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from redis.asyncio import Redis

from adapters.discord import create
from adapters.discord.state import NAMESPACE, DiscordState
from bot.config import Config, ConfigError
from bot.conversation import Conversation
from bot.store import Store
from tests.support.discord_harness import bot, discord_config, discord_fake, running
from tests.support.fake_discord import TOKEN, FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.parley_process import parley, user_env

__all__ = ["bot", "discord_config", "discord_fake"]


async def test_it_asks_for_the_intents_it_needs(bot: Conversation, discord_fake: FakeDiscord) -> None:
    guilds, guild_messages, dm_messages, message_content = 1 << 0, 1 << 9, 1 << 12, 1 << 15
    guild_reactions = 1 << 10  # the helpdesk: ✅ on a thread handed to a person
    assert discord_fake.intents == guilds | guild_messages | dm_messages | message_content | guild_reactions


async def test_reply_chain_links_expire_with_the_history(store: Store) -> None:
    state = DiscordState(store.namespace(NAMESPACE))
    await state.link_reply_chain("2", "1", ttl_seconds=100)
    assert await state.reply_chain_root("2", ttl_seconds=500) == "1"
    assert 100 < await store.redis.ttl(f"{store.prefix}:discord:reply-chain:2") <= 500, "a look-up refreshes the link"
    assert await state.reply_chain_root("3", ttl_seconds=500) is None


async def test_after_a_gateway_drop_the_session_resumes_and_messages_are_answered(
    bot: Conversation, discord_fake: FakeDiscord
) -> None:
    first = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} one")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(first) == ["echo: one"])

    await discord_fake.drop()
    await discord_fake.wait_for(lambda: discord_fake.resumes == 1, what="a RESUME")
    assert discord_fake.identifies == 1, "the session was resumed, not started afresh"
    assert discord_fake.bad_resumes == [], "with its token, session id and last sequence number"
    assert discord_fake.gateway_paths == ["/gateway", "/resume-gateway"], "on READY's resume_gateway_url"

    await discord_fake.user_message(first, discord_fake.alice, "two")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(first) == ["echo: one", "echo: two"])


async def test_a_zombie_connection_is_noticed_and_resumed(
    discord_config: Config, store: Store, discord_fake: FakeDiscord
) -> None:
    discord_fake.heartbeat_interval_ms = 100
    async with running(discord_config, store, discord_fake, heartbeat_timeout=1.0):
        await discord_fake.wait_for(lambda: len(discord_fake.heartbeats) >= 3, what="heartbeats")
        sent, dispatched = discord_fake.heartbeats[-1]
        assert sent == dispatched, "each heartbeat carries the last sequence number received"
        discord_fake.go_silent()  # Discord stops answering: discord.py must notice it and reconnect
        await discord_fake.wait_for(lambda: discord_fake.resumes == 1, what="a RESUME on a new connection")
        assert discord_fake.bad_resumes == [] and discord_fake.identifies == 1
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])


async def test_a_429_on_an_edit_is_waited_out(bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI) -> None:
    answer = "A fairly long answer that streams in pieces. " * 8
    fake.queue(Reply(answer, chunk_size=10, delay=0.03))
    discord_fake.rate_limit_edits = [0.5]
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} go")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [answer], what="the complete reply")

    edits = discord_fake.edits()
    limited = [n for n, edit in enumerate(edits) if edit.status == 429]
    assert len(limited) == 1
    retry = edits[limited[0] + 1]
    assert retry.status == 200 and retry.body == edits[limited[0]].body, "the same edit was sent again"
    assert retry.at - edits[limited[0]].at >= 0.45, "after the retry_after Discord asked for"


async def test_a_refused_message_content_intent_names_the_portal_switch(
    discord_config: Config, store: Store, discord_fake: FakeDiscord
) -> None:
    discord_fake.refuse_intents = True
    with pytest.raises(ConfigError) as refused:
        async with running(discord_config, store, discord_fake):
            pass
    message = str(refused.value)
    assert "4014" in message
    assert "Bot -> Privileged Gateway Intents -> Message Content Intent" in message


async def test_a_refused_token_is_a_config_error(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, core: Conversation
) -> None:
    environ = {**discord_fake.environ(), "DISCORD_BOT_TOKEN": "not-the-token"}
    with pytest.raises(ConfigError, match="Discord refused the token in DISCORD_BOT_TOKEN"):
        await create(core, environ).run()
    assert discord_fake.identifies == 0


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DISCORD_BOT_TOKEN", "", "DISCORD_BOT_TOKEN is not set"),
        ("DISCORD_API_URL", "discord.com/api/v10", "DISCORD_API_URL: 'discord.com/api/v10' must start with https://"),
        ("DISCORD_GATEWAY_URL", "https://gateway.discord.gg", "DISCORD_GATEWAY_URL: 'https://gateway.discord.gg' must"),
    ],
)
def test_bad_environment_is_explained(core: Conversation, name: str, value: str, expected: str) -> None:
    environ = {"DISCORD_BOT_TOKEN": TOKEN, name: value}
    with pytest.raises(ConfigError, match=re.escape(expected)):
        create(core, environ)


async def test_parley_run_discord_exits_with_the_portal_switch(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    discord_fake.refuse_intents = True
    env = user_env(redis_url, prefix, fake, tmp_path, **discord_fake.environ())
    code, _, err = await parley("run", "discord", "-vv", "--host", "127.0.0.1", "--port", "0", env=env)
    assert code == 2, err
    assert "Privileged Gateway Intents -> Message Content Intent" in err
    assert "Traceback" not in err.split("parley: Discord refused")[-1], "the message ends the output, plainly"
    assert "discord.gateway" in err, "discord.py's debug log was on"
    assert TOKEN not in err and "voice" not in err
