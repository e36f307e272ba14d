"""/parley slash commands through the real discord.py client and the fake Discord."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.discord import slash
from adapters.discord.slash import MAX_CHOICES
from bot.config import Config
from bot.conversation import Conversation
from bot.settings import KEYS
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.discord_harness import bot, discord_config, discord_fake, running
from tests.support.fake_discord import FakeDiscord, command_problems
from tests.support.fake_openai import FakeOpenAI

__all__ = ["bot", "discord_config", "discord_fake"]

EPHEMERAL = 1 << 6
DEFERRED = 5
"""The interaction callback type of a deferred answer ("parley is thinking...")."""


def texts_of(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An interaction's answers with text: a deferral (a command still running after DEFER_AFTER) has none."""
    return [answer for answer in found if answer.get("type") != DEFERRED]


async def answers(discord_fake: FakeDiscord, interaction: str, count: int = 1) -> list[str]:
    """The texts the user saw, after checking that only they could see them."""
    found = discord_fake.interaction_answers
    await discord_fake.wait_for(lambda: len(texts_of(found.get(interaction, []))) >= count, what="the command's answer")
    texts = []
    for answer in texts_of(found[interaction]):
        data = answer["data"]
        assert data["flags"] & EPHEMERAL, "answered ephemerally"
        assert data["allowed_mentions"] == {"parse": []}
        texts.append(data["content"])
    return texts


async def temperature(conversation: Conversation, discord_fake: FakeDiscord) -> float | None:
    settings = await conversation.settings_for(ChannelKey("discord", discord_fake.guild, discord_fake.general))
    return settings.temperature


async def test_set_by_an_admin_changes_the_channel_and_its_threads(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    interaction = await discord_fake.slash(
        discord_fake.general, discord_fake.alice, "set", key="temperature", value="0.3"
    )
    assert await answers(discord_fake, interaction) == [
        f"temperature is now 0.3 in discord:{discord_fake.guild}/{discord_fake.general}."
    ]
    assert await temperature(bot, discord_fake) == 0.3

    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])
    in_thread = await discord_fake.slash(mid, discord_fake.alice, "set", key="temperature", value="0.7")
    assert "is now 0.7" in (await answers(discord_fake, in_thread))[0]
    assert await temperature(bot, discord_fake) == 0.7, "/parley set in a thread sets its channel"
    await discord_fake.user_message(mid, discord_fake.alice, "again")
    await discord_fake.wait_for(lambda: len(fake.requests) == 2)
    assert fake.requests[1]["temperature"] == 0.7


async def test_a_command_still_running_is_deferred_then_answered_as_a_follow_up(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord drops an interaction with no response within 3 s; /parley set model waits for the model list."""
    monkeypatch.setattr(slash, "DEFER_AFTER", 0.05)
    fake.models = ["fake-model", "other-model"]
    fake.hold_models = asyncio.Event()
    interaction = await discord_fake.slash(
        discord_fake.general, discord_fake.alice, "set", key="model", value="other-model"
    )
    found = discord_fake.interaction_answers
    await discord_fake.wait_for(lambda: len(found.get(interaction, [])) == 1, what="the deferral")
    assert found[interaction][0] == {"type": DEFERRED, "data": {"flags": EPHEMERAL}}, "parley is thinking, for alice"
    fake.hold_models.set()
    channel = f"discord:{discord_fake.guild}/{discord_fake.general}"
    assert await answers(discord_fake, interaction) == [f"model is now other-model in {channel}."]
    assert found[interaction][1]["type"] == "followup"
    settings = await bot.settings_for(ChannelKey("discord", discord_fake.guild, discord_fake.general))
    assert settings.model == "other-model"


async def test_set_by_a_non_admin_is_refused_and_stores_nothing(bot: Conversation, discord_fake: FakeDiscord) -> None:
    interaction = await discord_fake.slash(
        discord_fake.general, discord_fake.bob, "set", key="temperature", value="0.3"
    )
    (text,) = await answers(discord_fake, interaction)
    assert text.startswith("Sorry, only admins can change")
    assert await temperature(bot, discord_fake) is None


async def test_the_configured_admin_list_counts_as_admin(
    discord_config: Config, store: Store, discord_fake: FakeDiscord
) -> None:
    config = discord_config.model_copy(update={"admins": [f"discord:{discord_fake.bob['id']}"]})
    async with running(config, store, discord_fake) as conversation:
        interaction = await discord_fake.slash(
            discord_fake.general, discord_fake.bob, "set", key="temperature", value="1"
        )
        assert "is now 1.0" in (await answers(discord_fake, interaction))[0]
        assert await temperature(conversation, discord_fake) == 1.0


async def test_an_invalid_value_gets_the_validation_message(bot: Conversation, discord_fake: FakeDiscord) -> None:
    interaction = await discord_fake.slash(
        discord_fake.general, discord_fake.alice, "set", key="temperature", value="7"
    )
    (text,) = await answers(discord_fake, interaction)
    assert text.startswith("Not changed: temperature") and "Allowed: a number from 0 to 2" in text
    assert await temperature(bot, discord_fake) is None


async def test_show_unset_models_and_help(bot: Conversation, discord_fake: FakeDiscord) -> None:
    general, alice = discord_fake.general, discord_fake.alice
    await answers(discord_fake, await discord_fake.slash(general, alice, "set", key="reply_mode", value="reply"))
    (shown,) = await answers(discord_fake, await discord_fake.slash(general, discord_fake.bob, "show"))
    assert shown.startswith("```\nSettings for discord:") and shown.endswith("\n```")
    assert "reply_mode" in shown and "override" in shown
    (unset,) = await answers(discord_fake, await discord_fake.slash(general, alice, "unset", key="reply_mode"))
    assert unset.startswith("Override of reply_mode removed")
    (models,) = await answers(discord_fake, await discord_fake.slash(general, alice, "models"))
    assert "fake-model" in models
    (usage,) = await answers(discord_fake, await discord_fake.slash(general, alice, "usage"))
    assert usage.startswith("```\nNo tokens used in discord:") and usage.endswith("(UTC).\n```")
    parts = await answers(discord_fake, await discord_fake.slash(general, alice, "help"))
    assert all(len(part) <= 2000 for part in parts), "the help is split into messages Discord takes"
    helped = "\n".join(parts)
    assert "@parley reset" in helped and "/parley set" in helped and "/reset" not in helped
    assert "temperature" in helped and "daily_token_budget" in helped


async def test_commands_sync_to_the_configured_servers(
    discord_config: Config, store: Store, discord_fake: FakeDiscord
) -> None:
    discord = discord_config.discord.model_copy(update={"guilds": [discord_fake.guild]})
    async with running(discord_config.model_copy(update={"discord": discord}), store, discord_fake):
        pass
    assert discord_fake.invalid_commands == []
    paths = [path for path, _ in discord_fake.command_syncs]
    assert paths == [f"/api/v10/applications/{discord_fake.app_id}/guilds/{discord_fake.guild}/commands"]
    (commands,) = [commands for _, commands in discord_fake.command_syncs]
    assert [c["name"] for c in commands] == ["parley"]
    subcommands = [option["name"] for option in commands[0]["options"]]
    assert subcommands == ["show", "set", "unset", "models", "usage", "help"]


async def test_without_servers_configured_commands_sync_globally(bot: Conversation, discord_fake: FakeDiscord) -> None:
    assert [path for path, _ in discord_fake.command_syncs] == [f"/api/v10/applications/{discord_fake.app_id}/commands"]


async def test_commands_discord_refuses_to_register_leave_mentions_working(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    discord_fake.fail("PUT", r"/applications/\d+/commands", 400, 50035, "Invalid Form Body")
    async with running(discord_config, store, discord_fake):
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
        await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["echo: hi"])
    assert "cannot register /parley in all servers (400: Invalid Form Body)" in caplog.text


def test_the_fake_checks_commands_as_discord_does() -> None:
    """So that a sync the fake takes is one Discord would take."""
    good = {"name": "parley", "description": "d", "options": [{"name": "show", "description": "x" * 100}]}
    assert command_problems(good) == []
    bad = {"name": "Parley", "description": "d", "options": [{"name": "show", "description": "x" * 101}]}
    assert len(command_problems(bad)) == 2


def test_every_setting_fits_in_the_choices() -> None:
    assert len(KEYS) <= MAX_CHOICES
