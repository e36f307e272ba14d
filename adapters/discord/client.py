"""The discord.py client: intents, command sync at start-up, and routing each message to the core."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord import slash
from adapters.discord.config import DiscordConfig
from adapters.discord.events import (
    Facts,
    Plan,
    channel_key,
    facts_from,
    ignored,
    is_chatter,
    plan,
    readable,
    unaddressed,
)
from adapters.discord.files import fetch_files
from adapters.discord.pacing import rate_limit_trace
from adapters.discord.sink import NO_MENTIONS, Channel, Destination, DiscordSink, thread_name
from adapters.discord.state import NAMESPACE as STATE_NAMESPACE
from adapters.discord.state import DiscordState
from adapters.discord.thread_reader import chain_before, prior_messages, thread_before
from adapters.discord.turns import RunningTurns
from bot.api import SOMETHING_BROKE, ChannelSettings, Conversation, IncomingMessage, PaceBook, PriorMessage, ThreadKey

log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """Servers, their messages, DMs and message content (privileged: the portal must allow it)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


@dataclass(frozen=True, slots=True)
class Routed:
    """A message for the core, as ``Conversation.receive`` takes it."""

    message: IncomingMessage
    sink: DiscordSink
    settings: ChannelSettings | None
    """The channel's settings, when routing resolved them and they are still the ones to answer with."""


class ParleyClient(discord.Client):
    def __init__(self, conversation: Conversation, config: DiscordConfig, **options: Any) -> None:
        # parley has no voice: discord.py's start-up warnings about voice libraries would only confuse.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        paces = PaceBook()  # the channels' write budgets, shared by the replies in each; a 429 pauses one
        options.setdefault("http_trace", rate_limit_trace(paces))
        # discord.py's session would take aiohttp's default of 100 connections: size it from the config.
        options.setdefault("connector", aiohttp.TCPConnector(limit=config.max_connections))
        super().__init__(intents=intents(), allowed_mentions=discord.AllowedMentions.none(), **options)
        self.conversation = conversation
        self.config = config
        self.state = DiscordState(conversation.state(STATE_NAMESPACE))
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self)
        self.tree.add_command(slash.build_group(conversation))
        self._arrival = asyncio.Lock()
        self._turns = RunningTurns()
        self._paces = paces

    async def setup_hook(self) -> None:
        await slash.sync(self.tree, self.config.guilds)

    async def on_message(self, message: discord.Message) -> None:
        # discord.py runs each event in a task of its own. The lock is FIFO, so messages are
        # routed one by one in arrival order, and each turn is handed to the core (which keeps
        # a thread's turns in that order) before the next message is looked at.
        async with self._arrival:
            try:
                routed = await self._route(message)
            except Exception:  # e.g. Redis unreachable: the core's own apology cannot be reached either
                log.exception("could not route message %s", message.id)
                await self._apologize(message)
                return
            if routed is None:
                return
            turn = self.conversation.receive(routed.message, routed.sink, routed.settings)
            self._turns.start(routed.message.thread, turn)

    async def _apologize(self, message: discord.Message) -> None:
        """A short reply to a message meant for the bot that could not be handled (nothing for chatter)."""
        me = self.user
        meant = me is not None and message.author.id != me.id and (message.guild is None or me in message.mentions)
        if not meant:
            return
        try:
            await message.reply(SOMETHING_BROKE, mention_author=False, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            log.warning("could not tell the user either: %s", error)

    async def _route(self, message: discord.Message) -> Routed | None:
        """Classify, resolve a text channel's settings (its reply_mode), find the reply chain's root, plan, sink."""
        me = self.user
        if me is None:
            return None
        channel: object = message.channel
        if isinstance(channel, discord.PartialMessageable) and message.guild is not None:
            try:
                channel = await self.fetch_channel(channel.id)  # a thread discord.py has not cached
            except (discord.NotFound, discord.Forbidden) as error:  # gone already, or never parley's to see
                log.warning("ignoring message %s: cannot see its channel %s (%s)", message.id, channel.id, error)
                return None
        facts = facts_from(message, channel, me.id)
        reason = ignored(facts, bot_id=me.id, answer_bots=self.config.answer_bots)
        if reason is not None:
            log.debug("ignoring message %s: %s", message.id, reason)
            return None
        if is_chatter(facts):
            return None
        settings = await self.conversation.settings_for(channel_key(facts)) if facts.place == "text" else None
        reply_mode = settings.reply_mode if settings is not None else "thread"  # threads and DMs answer in place
        root = await self._chain_root(facts) if reply_mode == "reply" else None
        decided = plan(facts, bot_id=me.id, bot_name=me.name, reply_mode=reply_mode, chain_root=root)
        if decided is None:
            noted = unaddressed(facts, bot_id=me.id)
            if noted is not None:
                await self.conversation.note(noted)
            return None
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.DMChannel):
            return None  # place_of() let only these through; this tells the type checker
        settings, prior = await self._joined(decided, facts, message, channel, settings)
        files = await fetch_files(message.attachments, self.conversation.config.files)
        incoming = replace(decided.message, prior=prior, files=files)
        sink = await self._sink(decided, message, channel)
        return Routed(incoming, sink, self._settings_to_answer_with(incoming.thread, settings))

    async def _joined(
        self,
        decided: Plan,
        facts: Facts,
        message: discord.Message,
        channel: Channel,
        settings: ChannelSettings | None,
    ) -> tuple[ChannelSettings | None, tuple[PriorMessage, ...]]:
        """The channel's settings, and what came before a mention in a thread or reply chain parley does not
        remember yet (read once: later messages reach it as events)."""
        in_thread = isinstance(channel, discord.Thread)
        if not facts.mentions_bot or decided.message.text == "/reset" or not (in_thread or facts.reference_id):
            return settings, ()
        if settings is None:
            settings = await self.conversation.settings_for(channel_key(facts))
        wanted = await self.conversation.context_wanted(decided.message.thread, settings)
        if not wanted:
            return settings, ()
        if isinstance(channel, discord.Thread):
            earlier = await thread_before(channel, message, wanted)
        else:
            earlier = await chain_before(channel, message, wanted)
        return settings, prior_messages(earlier, self.user.id if self.user else 0)

    async def _chain_root(self, facts: Facts) -> str | None:
        """The root of the reply chain the message answers, if it answers one parley knows."""
        if facts.reference_id is None:
            return None
        return await self.state.reply_chain_root(facts.reference_id, self.conversation.config.history.ttl_seconds)

    def _settings_to_answer_with(self, thread: ThreadKey, settings: ChannelSettings | None) -> ChannelSettings | None:
        """The settings resolved on arrival, unless the turn will wait for earlier turns of its conversation:
        one of them may change the settings (``@parley /set ...``), and the answer must see that, so then the
        core resolves them when the turn starts, as it does for threads and DMs."""
        return None if self._turns.any_in(thread) else settings

    async def _sink(self, decided: Plan, message: discord.Message, channel: Channel) -> DiscordSink:
        interval, grace = self.config.edit_interval, self.config.first_text_grace
        if decided.delivery == "new_thread":
            destination = Destination(
                channel,
                open_thread_from=message,
                thread_name=thread_name(readable(decided.message.text, message)),
                fetch_channel=self.fetch_channel,
            )
            return DiscordSink(destination, edit_interval=interval, grace=grace, paces=self._paces)
        if decided.delivery == "here":
            return DiscordSink(Destination(channel), edit_interval=interval, grace=grace, paces=self._paces)
        root, state = decided.root or decided.message.event_id, self.state
        ttl = self.conversation.config.history.ttl_seconds
        await state.link_reply_chain(decided.message.event_id, root, ttl)

        async def link(posted: str) -> None:
            await state.link_reply_chain(posted, root, ttl)

        return DiscordSink(
            Destination(channel, reply_to=message),
            edit_interval=interval,
            on_posted=link,
            grace=grace,
            paces=self._paces,
        )

    async def settled(self) -> None:
        """Wait until the turns handed to the core so far have ended (their replies sent and remembered)."""
        await self._turns.settled()

    async def close(self) -> None:
        """Stop the turns still running (their replies could not be sent any more), then disconnect."""
        await self._turns.cancel()
        await super().close()
