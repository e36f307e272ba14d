"""The discord.py client: intents, command sync at start-up, and routing each message into the queue."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord import slash
from adapters.discord.call_metrics import discord_call_trace
from adapters.discord.config import DiscordConfig
from adapters.discord.desk import DiscordDesk
from adapters.discord.events import (
    PLATFORM,
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
from adapters.discord.pacing import rate_limit_trace
from adapters.discord.payload import Context, FileRef, JobPayload
from adapters.discord.sink import NO_MENTIONS, Channel, thread_name
from adapters.discord.state import NAMESPACE as STATE_NAMESPACE
from adapters.discord.state import DiscordState
from adapters.discord.turns import QueuedTurns
from bot.api import SOMETHING_BROKE, ChannelSettings, Conversation, QueueUnavailable, ThreadKey, traced

log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """Servers, their messages, DMs and message content (privileged: the portal must allow it)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    wanted.guild_reactions = True  # ✅ on a helpdesk thread handed to a person
    return wanted


@dataclass(frozen=True, slots=True)
class Routed:
    """A message for the queue, as ``Conversation.enqueue`` takes it."""

    thread: ThreadKey
    event_id: str
    payload: JobPayload


class ParleyClient(discord.Client):
    """The gateway side: accepts messages and queues them (``Conversation.enqueue``); answers slash commands.

    ``queued``: the jobs this process's own worker will answer (``parley run``), so that a job can carry
    the settings routing resolved; None (``--ingress-only``): every job leaves them to the worker.
    """

    def __init__(
        self, conversation: Conversation, config: DiscordConfig, queued: QueuedTurns | None = None, **options: Any
    ) -> None:
        # parley has no voice: discord.py's start-up warnings about voice libraries would only confuse.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        # The channels' write budgets, shared by the replies in each, in every process on this Redis; a 429 pauses one.
        paces = conversation.pace_book()
        # The same trace counts its REST calls for /metrics (call_metrics.py).
        options.setdefault("http_trace", discord_call_trace(conversation.metrics, rate_limit_trace(paces)))
        # discord.py's session would take aiohttp's default of 100 connections: size it from the config.
        options.setdefault("connector", aiohttp.TCPConnector(limit=config.max_connections))
        super().__init__(intents=intents(), allowed_mentions=discord.AllowedMentions.none(), **options)
        self.conversation = conversation
        self.config = config
        self.state = DiscordState(conversation.state(STATE_NAMESPACE))
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self)
        self.tree.add_command(slash.build_group(conversation))
        self.paces = paces
        self.logged_in = asyncio.Event()
        """Set once the REST API is usable (after login): a worker in this process then answers through it."""
        self.gateway_down: str | None = "gateway not connected"
        """Why the gateway cannot deliver events now (``/readyz``); None from READY or RESUMED to a disconnect."""
        self._arrival = asyncio.Lock()
        self._queued = queued
        self._desk = DiscordDesk(conversation, self.state, self)

    async def setup_hook(self) -> None:
        self.logged_in.set()
        await slash.sync(self.tree, self.config.guilds)

    async def on_connect(self) -> None:
        """READY received: the session is identified (discord.py dispatches this as it reads READY, in order with
        ``disconnect``; ``on_ready`` comes ``guild_ready_timeout`` later, even if the connection dropped meanwhile)."""
        self.gateway_down = None

    async def on_resumed(self) -> None:
        """Back after a drop: the session resumed on a new connection."""
        self.gateway_down = None

    async def on_disconnect(self) -> None:
        """The connection ended (discord.py reconnects by itself: RESUMED or READY follows)."""
        self.gateway_down = "gateway disconnected"

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A helpdesk button (slash commands go to the command tree)."""
        try:
            await self._desk.on_interaction(interaction)
        except Exception:
            log.exception("the helpdesk click %s failed", interaction.id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        try:
            await self._desk.on_reaction(payload)
        except Exception:
            log.exception("the reaction on message %s could not be handled", payload.message_id)

    async def on_message(self, message: discord.Message) -> None:
        # discord.py runs each event in a task of its own. The lock is FIFO, so messages are
        # routed one by one in arrival order, and each is queued (which keeps a thread's
        # messages in that order) before the next message is looked at.
        async with self._arrival:
            try:
                with traced():  # the message's trace: queued with it, the worker's lines about it carry it too
                    routed = await self._route(message)
                    if routed is None:
                        return
                    await self._enqueue(routed)
            except QueueUnavailable as error:  # the gateway delivers a message once: it cannot wait for Redis
                log.error("could not queue message %s: %s", message.id, error)
                await self._apologize(message)
            except Exception:  # e.g. Redis unreachable: the core's own apology cannot be reached either
                log.exception("could not route message %s", message.id)
                await self._apologize(message)

    async def _enqueue(self, routed: Routed) -> None:
        if self._queued is not None:
            self._queued.add(routed.thread, routed.event_id)
        try:
            added = await self.conversation.enqueue(routed.thread, routed.event_id, routed.payload.to_json())
        except BaseException:
            if self._queued is not None:
                self._queued.done(routed.thread, routed.event_id)
            raise
        if added:
            log.info("accepted discord event %s in %s: queued", routed.event_id, routed.thread)
        else:
            log.info("event %s already handled: ignoring the redelivery", routed.event_id)
            if self._queued is not None:
                self._queued.done(routed.thread, routed.event_id)

    async def _apologize(self, message: discord.Message) -> None:
        """A short reply to a message meant for the bot that could not be handled (nothing for chatter)."""
        me = self.user
        meant = me is not None and message.author.id != me.id and (message.guild is None or me in message.mentions)
        if not meant:
            return
        self.conversation.lost(PLATFORM)
        try:
            await message.reply(SOMETHING_BROKE, mention_author=False, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            log.warning("could not tell the user either: %s", error)

    async def _route(self, message: discord.Message) -> Routed | None:
        """Classify, resolve a text channel's settings (its reply_mode), find the reply chain's root, plan."""
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
        if decided.delivery == "reply":  # a reply to the bot's answer, or to this question, continues the chain
            root_id = decided.root or decided.message.event_id
            await self.state.link_reply_chain(decided.message.event_id, root_id, self._ttl)
        incoming = decided.message
        payload = JobPayload(
            delivery=decided.delivery,
            guild_id=facts.guild_id,
            channel_id=facts.channel_id,
            message_id=facts.message_id,
            author=incoming.author,
            text=incoming.text,
            mentioned=incoming.mentioned,
            is_dm=incoming.is_dm,
            bot_name=me.name,
            received_at=incoming.received_at,
            root=decided.root,
            thread_name=thread_name(readable(incoming.text, message)) if decided.delivery == "new_thread" else "",
            context=_context(decided, facts, channel),
            files=tuple(FileRef(a.url, a.filename, a.size, a.content_type or "") for a in message.attachments),
            settings=self._settings_to_answer_with(incoming.thread, settings),
        )
        return Routed(incoming.thread, incoming.event_id, payload)

    @property
    def _ttl(self) -> int:
        return self.conversation.config.history.ttl_seconds

    async def _chain_root(self, facts: Facts) -> str | None:
        """The root of the reply chain the message answers, if it answers one parley knows."""
        if facts.reference_id is None:
            return None
        return await self.state.reply_chain_root(facts.reference_id, self._ttl)

    def _settings_to_answer_with(self, thread: ThreadKey, settings: ChannelSettings | None) -> ChannelSettings | None:
        """The settings resolved on arrival, when this process answers the job and nothing of its conversation
        is queued before it: an earlier job may change the settings (``@parley /set ...``), and the answer
        must see that, so then the core resolves them when the turn starts, as it does for threads and DMs.
        An ingress whose jobs other processes answer cannot tell, and leaves them to the worker."""
        if self._queued is None or self._queued.any_in(thread):
            return None
        return settings

    async def settled(self) -> None:
        """Wait until the messages queued so far have been answered by this process's worker (``parley run``)."""
        if self._queued is not None:
            await self._queued.settled()


def _context(decided: Plan, facts: Facts, channel: Channel) -> Context | None:
    """Where to read what came before a mention in a thread or reply chain parley does not remember yet
    (read once, by the worker, when the core wants it: later messages reach it as events)."""
    if not facts.mentions_bot or decided.message.text == "/reset":
        return None
    if isinstance(channel, discord.Thread):
        return "thread"
    return "chain" if facts.reference_id else None
