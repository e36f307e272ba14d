"""The Discord worker side: answers the jobs the gateway client queued, through Discord's REST API only.

For each job it rebuilds, from the payload the ingress wrote, what the answer needs: the message (with
what came before it in a thread or reply chain parley does not know yet, read once, and its files,
downloaded), and the reply sink (a new thread opened from the message, the channel itself, or a reply
in a chain); then ``turn.answer``. Channels are ``PartialMessageable``s: no gateway cache is needed.

A job taken again (its worker died) answers in the thread the first attempt opened, recorded in the
adapter's state, and the core's reply ledger turns its first posts into edits of the messages the first
attempt posted (``DiscordSink.edit`` works on any message id, from any process).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Final, Literal, Self

import discord

from adapters.discord.config import DiscordConfig
from adapters.discord.desk import first_message
from adapters.discord.events import PLATFORM
from adapters.discord.files import fetch_files
from adapters.discord.payload import BadPayload, JobPayload, read
from adapters.discord.rest import Rest, RestSource
from adapters.discord.sink import UNKNOWN_MESSAGE, Channel, Destination, DiscordSink
from adapters.discord.state import NAMESPACE as STATE_NAMESPACE
from adapters.discord.state import DiscordState
from adapters.discord.thread_reader import chain_before, prior_messages, thread_before
from adapters.discord.turns import QueuedTurns
from bot.api import SOMETHING_BROKE, ChannelSettings, Conversation, IncomingMessage, Job, PriorMessage, Turn

log = logging.getLogger(__name__)

AUTO_ARCHIVE_MINUTES: Final[Literal[1440]] = 1440


class DiscordJobs:
    """The ``JobHandler`` of platform "discord"."""

    platform = PLATFORM

    def __init__(
        self,
        conversation: Conversation,
        config: DiscordConfig,
        rest: RestSource,
        queued: QueuedTurns | None = None,
    ) -> None:
        self._conversation = conversation
        self._config = config
        self._rest = rest
        self.queued = queued
        """This process's ingress's record of what it queued (``parley run``): told when a job is finished."""
        self._state = DiscordState(conversation.state(STATE_NAMESPACE))

    async def handle(self, job: Job, turn: Turn) -> None:
        payload = self._read(job)
        if payload is None:
            self._finished(job)
            return
        rest = await self._rest.rest()
        channel = self._channel(rest, payload)
        message = payload.message(job.thread)
        settings, prior = await self._context(rest, channel, payload, message)
        files = await fetch_files(payload.files, rest.client.http.get_from_cdn, self._conversation.config.files)
        sink = await self._sink(rest, job, payload, channel)
        try:
            await turn.answer(replace(message, prior=prior, files=files), sink, settings)
        except discord.HTTPException as error:
            if not refused(error):
                raise  # a 5xx or a rate limit discord.py gave up on: worth another attempt
            await self._refused(job, payload, sink, error)
        self._finished(job)

    async def _refused(self, job: Job, payload: JobPayload, sink: DiscordSink, error: discord.HTTPException) -> None:
        """Discord refused a write for good (no permission, an archived thread, a deleted question): another
        attempt would meet the same refusal, so the job ends here, with the apology where it can still go."""
        if isinstance(error, discord.NotFound) and error.code == UNKNOWN_MESSAGE and payload.delivery == "new_thread":
            log.info("job %s: message %s was deleted before the answer: not answering it", job.id, payload.message_id)
            return
        log.warning("job %s in %s: Discord refused the reply (%s): not trying again", job.id, job.thread, error)
        try:
            await sink.post(SOMETHING_BROKE)
        except discord.HTTPException as again:
            log.warning("could not tell the user either: %s", again)

    async def tell(self, job: Job, text: str) -> None:
        """Post ``text`` where the job's reply would go (opening its thread if need be)."""
        self._finished(job)
        payload = self._read(job)
        if payload is None:
            return
        rest = await self._rest.rest()
        sink = await self._sink(rest, job, payload, self._channel(rest, payload))
        try:
            if job.replies:  # in place of the reply an attempt began
                await sink.edit(job.replies[0], text)
            else:
                await sink.post(text)
        except discord.HTTPException as error:
            log.warning("could not tell the user about job %s in %s: %s", job.id, job.thread, error)

    async def __aenter__(self) -> Self:
        """``parley worker`` holds the handler open while its worker runs: it logs in now, so that a refused
        token or an unreachable Discord stops it at start (a ``ConfigError``), not at the first message."""
        await self._rest.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client this handler answers through: a REST-only login's (``parley worker``), or, in
        ``parley run``, the adapter's, once the worker has stopped (its gateway stopped before)."""
        await self._rest.aclose()

    def _read(self, job: Job) -> JobPayload | None:
        try:
            return read(job.payload)
        except BadPayload as error:  # never answered, never retried: nothing a later attempt could do better
            log.error("job %s (event %s) cannot be answered: %s", job.id, job.event_id, error)
            return None

    def _finished(self, job: Job) -> None:
        if self.queued is not None:
            self.queued.done(job.thread, job.event_id)

    @staticmethod
    def _channel(rest: Rest, payload: JobPayload) -> discord.PartialMessageable:
        """Where the message was written, as a REST-only handle (no gateway cache needed)."""
        guild = int(payload.guild_id) if payload.guild_id is not None else None
        kind = discord.ChannelType.private if payload.is_dm else None
        return rest.client.get_partial_messageable(int(payload.channel_id), guild_id=guild, type=kind)

    async def _context(
        self, rest: Rest, channel: discord.PartialMessageable, payload: JobPayload, message: IncomingMessage
    ) -> tuple[ChannelSettings | None, tuple[PriorMessage, ...]]:
        """The channel's settings, and what came before a mention in a thread or reply chain parley does not
        remember yet (read once: later messages reach it as events)."""
        settings = payload.settings
        if payload.context is None:
            return settings, ()
        if settings is None:
            settings = await self._conversation.settings_for(message.thread.channel_key)
        wanted = await self._conversation.context_wanted(message.thread, settings)
        if not wanted:
            return settings, ()
        mention_id = int(payload.message_id)
        if payload.context == "thread":
            earlier = await thread_before(channel, discord.Object(mention_id), wanted)
        else:
            try:
                mention = await channel.fetch_message(mention_id)
            except discord.HTTPException as error:
                log.warning("reading the reply chain of %s failed: %s", mention_id, error)
                return settings, ()
            earlier = await chain_before(channel, mention, wanted)
        return settings, prior_messages(earlier, rest.bot_id)

    async def _sink(
        self, rest: Rest, job: Job, payload: JobPayload, channel: discord.PartialMessageable
    ) -> DiscordSink:
        interval, grace = self._config.edit_interval, self._config.first_text_grace
        message = channel.get_partial_message(int(payload.message_id))
        first = first_message(rest.client, job.thread)
        if payload.delivery == "new_thread":
            destination = Destination(
                channel,
                open_thread_from=message,
                thread_name=payload.thread_name,
                fetch_channel=rest.client.fetch_channel,
                open_thread=self._thread_opener(rest, job, payload),
                first_message=first,
            )
            return DiscordSink(destination, edit_interval=interval, grace=grace, paces=rest.paces)
        if payload.delivery == "here":
            destination = Destination(channel, first_message=first)
            return DiscordSink(destination, edit_interval=interval, grace=grace, paces=rest.paces)
        root, state = payload.root or payload.message_id, self._state
        ttl = self._conversation.config.history.ttl_seconds

        async def link(posted: str) -> None:
            await state.link_reply_chain(posted, root, ttl)

        return DiscordSink(
            Destination(channel, reply_to=message, first_message=first),
            edit_interval=interval,
            on_posted=link,
            grace=grace,
            paces=rest.paces,
        )

    def _thread_opener(self, rest: Rest, job: Job, payload: JobPayload) -> OpenThreadOnce:
        return OpenThreadOnce(rest, self._state, job, payload, self._conversation.config.dedup_seconds)


def refused(error: discord.HTTPException) -> bool:
    """A client error Discord will answer the same way next time (not a rate limit, not a server error)."""
    return 400 <= error.status < 500 and error.status != 429


class OpenThreadOnce:
    """Opens the reply's thread from the message over REST, once per job: an attempt after the first
    answers in the thread an earlier one opened (recorded in the adapter's state)."""

    def __init__(self, rest: Rest, state: DiscordState, job: Job, payload: JobPayload, ttl_seconds: int) -> None:
        self._rest = rest
        self._state = state
        self._job = job
        self._payload = payload
        self._ttl = ttl_seconds

    async def __call__(self, starter: discord.PartialMessage, name: str) -> Channel:
        opened = await self._state.opened_thread(self._payload.message_id) if self._job.attempt > 1 else None
        if opened is None:
            http = self._rest.client.http
            data = await http.start_thread_with_message(
                starter.channel.id, starter.id, name=name, auto_archive_duration=AUTO_ARCHIVE_MINUTES
            )
            opened = str(data["id"])
            await self._state.record_opened_thread(self._payload.message_id, opened, self._ttl)
        else:
            log.info("job %s (attempt %d) answers in thread %s, opened before", self._job.id, self._job.attempt, opened)
        guild = int(self._payload.guild_id) if self._payload.guild_id is not None else None
        return self._rest.client.get_partial_messageable(
            int(opened), guild_id=guild, type=discord.ChannelType.public_thread
        )
