"""The discord.py client: intents, command sync at start-up, and routing each message to the core."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from adapters.discord import slash
from adapters.discord.config import DiscordConfig
from adapters.discord.events import Plan, channel_key, facts_from, ignored, place_of, plan, readable
from adapters.discord.pacing import rate_limit_trace
from adapters.discord.sink import NO_MENTIONS, Channel, DiscordSink, Target
from adapters.discord.state import NAMESPACE as STATE_NAMESPACE
from adapters.discord.state import DiscordState
from bot.api import SOMETHING_BROKE, Conversation, IncomingMessage, PaceBook, ReplyMode

log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """Servers, their messages, DMs and message content (privileged: the portal must allow it)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


class ParleyClient(discord.Client):
    def __init__(self, conversation: Conversation, settings: DiscordConfig, **options: Any) -> None:
        # parley has no voice: discord.py's start-up warnings about voice libraries would only confuse.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        paces = PaceBook()  # the channels' write budgets, shared by the replies in each; a 429 pauses one
        options.setdefault("http_trace", rate_limit_trace(paces))
        super().__init__(intents=intents(), allowed_mentions=discord.AllowedMentions.none(), **options)
        self.conversation = conversation
        self.settings = settings
        self.state = DiscordState(conversation.state(STATE_NAMESPACE))
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self)
        self.tree.add_command(slash.build_group(conversation))
        self._arrival = asyncio.Lock()
        self._turns: set[asyncio.Task[None]] = set()
        self._paces = paces

    async def setup_hook(self) -> None:
        await slash.sync(self.tree, self.settings.guilds)

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
            turn = asyncio.create_task(self.conversation.receive(*routed))
            self._turns.add(turn)
            turn.add_done_callback(self._turns.discard)

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

    async def _route(self, message: discord.Message) -> tuple[IncomingMessage, DiscordSink] | None:
        me = self.user
        if me is None:
            return None
        channel: object = message.channel
        if isinstance(channel, discord.PartialMessageable) and message.guild is not None:
            channel = await self.fetch_channel(channel.id)  # a thread discord.py has not cached
        facts = facts_from(message, channel, me.id)
        reason = ignored(facts, bot_id=me.id, answer_bots=self.settings.answer_bots)
        if reason is not None:
            log.debug("ignoring message %s: %s", message.id, reason)
            return None
        reply_mode: ReplyMode = "thread"
        root = None
        ttl = self.conversation.config.history.ttl_seconds
        if place_of(channel) == "text":
            if not facts.mentions_bot and facts.reference_id is None:
                return None  # channel chatter: never for the bot, so no Redis round trip for it
            reply_mode = (await self.conversation.settings_for(channel_key(facts))).reply_mode
            if reply_mode == "reply" and facts.reference_id is not None:
                root = await self.state.reply_chain_root(facts.reference_id, ttl)
        decided = plan(facts, bot_id=me.id, bot_name=me.name, reply_mode=reply_mode, chain_root=root)
        if decided is None:
            return None
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.DMChannel):
            return None  # place_of() let only these through; this tells the type checker
        return decided.message, await self._sink(decided, message, channel)

    async def _sink(self, decided: Plan, message: discord.Message, channel: Channel) -> DiscordSink:
        interval, grace = self.settings.edit_interval, self.settings.first_text_grace
        if decided.delivery == "new_thread":
            target = Target(
                channel,
                open_thread_from=message,
                thread_name=readable(decided.message.text, message),
                fetch_channel=self.fetch_channel,
            )
            return DiscordSink(target, edit_interval=interval, grace=grace, paces=self._paces)
        if decided.delivery == "here":
            return DiscordSink(Target(channel), edit_interval=interval, grace=grace, paces=self._paces)
        root, state = decided.root or decided.message.event_id, self.state
        ttl = self.conversation.config.history.ttl_seconds
        await state.link_reply_chain(decided.message.event_id, root, ttl)

        async def link(posted: str) -> None:
            await state.link_reply_chain(posted, root, ttl)

        return DiscordSink(
            Target(channel, reply_to=message), edit_interval=interval, on_posted=link, grace=grace, paces=self._paces
        )

    async def close(self) -> None:
        """Stop the turns still running (their replies could not be sent any more), then disconnect."""
        for turn in list(self._turns):
            turn.cancel()
        await asyncio.gather(*self._turns, return_exceptions=True)
        await super().close()
