"""``/parley show|set|unset|models|usage|help``: Discord slash commands, answered ephemerally by the core's commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import discord
from discord import app_commands

from adapters.discord.events import DM_WORKSPACE, PLATFORM, command_style
from adapters.discord.mentions import neutralised
from adapters.discord.sink import MAX_CHARS, NO_MENTIONS
from bot.api import HELP, SETTING_KEYS, SOMETHING_BROKE, Author, Command, Conversation, ThreadKey, split

log = logging.getLogger(__name__)

Interaction = discord.Interaction[discord.Client]

DEFER_AFTER = 2.0
"""Discord drops an interaction that gets no response within 3 s ("The application did not respond"). A command
still running after this many seconds (one that asks a backend for its model list: /parley set model, show,
models) is deferred, which shows the user that parley is thinking, and answered as a follow-up."""
MAX_CHOICES = 25  # Discord's limit on an option's choices (a test checks that every setting fits)
SETTING_CHOICES = [app_commands.Choice(name=key, value=key) for key in SETTING_KEYS]


def thread_of(interaction: Interaction) -> ThreadKey:
    """The conversation a command was typed in; its channel is a thread's parent, as for messages."""
    channel_id = str(interaction.channel_id)
    if interaction.guild_id is None:
        return ThreadKey(PLATFORM, DM_WORKSPACE, channel_id, channel_id)
    channel = interaction.channel
    parent = str(channel.parent_id) if isinstance(channel, discord.Thread) else channel_id
    return ThreadKey(PLATFORM, str(interaction.guild_id), parent, channel_id)


def author_of(interaction: Interaction) -> Author:
    user = interaction.user
    is_admin = interaction.guild_id is not None and interaction.permissions.manage_channels
    return Author(str(user.id), user.display_name, is_admin=is_admin)


def as_code(text: str) -> str:
    """Command answers are aligned tables: a code block keeps them aligned in Discord."""
    return f"```\n{text}\n```"


async def answer(interaction: Interaction, conversation: Conversation, command: Command) -> None:
    """Run the command in the core and answer only the user who typed it (an apology if the core fails)."""
    running = asyncio.ensure_future(_text(interaction, conversation, command))
    try:
        done, _ = await asyncio.wait({running}, timeout=DEFER_AFTER)
        if not done:
            await interaction.response.defer(ephemeral=True, thinking=True)
        text = await running
    finally:
        running.cancel()  # only takes effect when this handler was cancelled first
    parts = split(neutralised(text), MAX_CHARS)  # a setting's value can hold @everyone, the model's name too
    if done:
        await interaction.response.send_message(parts[0], ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.followup.send(parts[0], ephemeral=True, allowed_mentions=NO_MENTIONS)
    for part in parts[1:]:
        await interaction.followup.send(part, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def _text(interaction: Interaction, conversation: Conversation, command: Command) -> str:
    """The command's answer as Discord shows it, or the apology when the core fails."""
    try:
        me = interaction.client.user
        style = command_style(me.name if me else "parley")
        text = await conversation.run_command(command, thread_of(interaction), author_of(interaction), style)
    except Exception:  # e.g. Redis unreachable: without an answer Discord shows "The application did not respond"
        log.exception("/parley %s failed", command.name)
        return SOMETHING_BROKE
    return as_code(text) if command.name in ("show", "models", "usage", "help") else text


def build_group(conversation: Conversation) -> app_commands.Group:
    group = app_commands.Group(name="parley", description="parley's settings for this channel")

    @group.command(name="show", description=HELP["show"])
    async def show(interaction: Interaction) -> None:
        await answer(interaction, conversation, Command("show"))

    @group.command(name="set", description="change a setting for this channel (admins)")
    @app_commands.describe(key="the setting", value="its new value (none: back to not sent)")
    @app_commands.choices(key=SETTING_CHOICES)
    async def set_(interaction: Interaction, key: str, value: str) -> None:
        await answer(interaction, conversation, Command("set", f"{key} {value}"))

    @group.command(name="unset", description=HELP["unset"].removeprefix("KEY: "))
    @app_commands.describe(key="the setting")
    @app_commands.choices(key=SETTING_CHOICES)
    async def unset(interaction: Interaction, key: str) -> None:
        await answer(interaction, conversation, Command("unset", key))

    @group.command(name="models", description=HELP["models"])
    async def models(interaction: Interaction) -> None:
        await answer(interaction, conversation, Command("models"))

    @group.command(name="usage", description=HELP["usage"].removeprefix("[YYYY-MM-DD]: "))
    @app_commands.describe(date="a UTC day, YYYY-MM-DD (default: today)")
    async def usage(interaction: Interaction, date: str | None = None) -> None:
        await answer(interaction, conversation, Command("usage", date or ""))

    @group.command(name="help", description=HELP["help"])
    async def help_(interaction: Interaction) -> None:
        await answer(interaction, conversation, Command("help"))

    return group


async def sync(tree: app_commands.CommandTree[discord.Client], guilds: Sequence[str]) -> None:
    """Register the commands: in each configured server (instant), else globally (up to an hour to appear)."""
    if not guilds:
        await _sync(tree, None)
        return
    for guild_id in guilds:
        guild = discord.Object(id=int(guild_id))
        tree.copy_global_to(guild=guild)
        await _sync(tree, guild)


async def _sync(tree: app_commands.CommandTree[discord.Client], guild: discord.Object | None) -> None:
    where = f"server {guild.id}" if guild is not None else "all servers"
    try:
        synced = await tree.sync(guild=guild)
    except discord.Forbidden as error:
        log.error(
            "cannot register /parley in %s (%s): invite the bot with the applications.commands scope "
            "(see the README), or correct [discord] guilds; mentions still work",
            where,
            error.text,
        )
        return
    except discord.HTTPException as error:  # e.g. 400 Invalid Form Body, 5xx: Discord keeps the commands it had
        log.error("cannot register /parley in %s (%s: %s); mentions still work", where, error.status, error.text)
        return
    log.info("registered %s in %s", ", ".join(f"/{c.name}" for c in synced), where)
