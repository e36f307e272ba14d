"""The reply sink: how the core's reply reaches Discord (a thread, a DM, or a reply chain)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeAlias

import discord

from adapters.discord.desk import SOS, feedback_view, group_mentions, mark
from adapters.discord.mentions import neutralised, shown_length
from adapters.discord.pacing import bucket_name
from bot.api import Pace, PaceBook, SinkLimits, rate_of, split

log = logging.getLogger(__name__)

MAX_CHARS = 2000
EDIT_BURST = 3
"""Writes a channel's budget allows at once (then one per edit_interval): a last edit seldom waits."""
THREAD_NAME_CHARS = 80
NO_MENTIONS = discord.AllowedMentions.none()
"""Every send and edit: the model's text can never ping @everyone, @here, a role or a user (and the text
itself has its @everyone and @here broken: ``mentions.neutralised``)."""
THREAD_EXISTS = 160004  # Discord's error code: "A thread has already been created for this message"
UNKNOWN_MESSAGE = 10008  # Discord's error code: the message was deleted

Channel: TypeAlias = discord.TextChannel | discord.Thread | discord.DMChannel | discord.PartialMessageable
FetchChannel: TypeAlias = Callable[[int], Awaitable[object]]
OpenThread: TypeAlias = Callable[[discord.PartialMessage, str], Awaitable[Channel]]
"""Opens a thread from a message, with a title (the worker's: over REST, reusing one an earlier attempt opened)."""


class Destination:
    """Where one reply goes: a channel known now, or a thread opened from a message on first use."""

    def __init__(
        self,
        channel: Channel,
        *,
        reply_to: discord.PartialMessage | None = None,
        open_thread_from: discord.PartialMessage | None = None,
        thread_name: str = "parley",
        fetch_channel: FetchChannel | None = None,
        open_thread: OpenThread | None = None,
        first_message: discord.PartialMessage | None = None,
    ) -> None:
        self._channel = channel
        self.first_message = first_message
        """The message the conversation started from (a thread's starter, a reply chain's root), if known."""
        self._fetch_channel = fetch_channel
        self._open = open_thread or _create_thread
        self._reference = reply_to.to_reference(fail_if_not_exists=False) if reply_to is not None else None
        self._starter = open_thread_from
        self._thread_name = thread_name
        self._opening = asyncio.Lock()

    @property
    def reference(self) -> discord.MessageReference | None:
        return self._reference

    @property
    def place_id(self) -> int:
        """The channel the messages go to: a thread not yet opened has its starter message's id."""
        return self._starter.id if self._starter is not None else self._channel.id

    async def channel(self) -> Channel:
        if self._starter is None:
            return self._channel
        async with self._opening:
            # Cleared only once the thread is open: if opening failed (the question was deleted), a
            # later call fails too, so that no notice lands in the parent channel, out of context.
            if self._starter is not None:
                self._channel = await self._open_thread(self._starter)
                self._starter = None
        return self._channel

    async def _open_thread(self, starter: discord.PartialMessage) -> Channel:
        try:
            return await self._open(starter, self._thread_name)
        except discord.NotFound as error:
            if error.code == UNKNOWN_MESSAGE:
                log.info("message %s was deleted before the answer: not answering it", starter.id)
            raise
        except discord.Forbidden as error:
            log.warning(
                "cannot open a thread in channel %s (%s): answering in the channel instead; "
                "give the bot Create Public Threads and Send Messages in Threads",
                starter.channel.id,
                error.text,
            )
            self._reference = starter.to_reference(fail_if_not_exists=False)
            return self._channel
        except discord.HTTPException as error:
            if error.code != THREAD_EXISTS or self._fetch_channel is None:
                raise
            found = await self._fetch_channel(starter.id)  # a thread opened from a message has the message's id
            if not isinstance(found, discord.Thread):
                raise
            return found


async def _create_thread(starter: discord.PartialMessage, name: str) -> Channel:
    return await starter.create_thread(name=name, auto_archive_duration=1440)


def thread_name(prompt: str) -> str:
    """A thread's title: the start of the first line of the prompt (with @everyone and @here as plain words)."""
    first = next((line.strip() for line in neutralised(prompt).splitlines() if line.strip()), "")
    if len(first) > THREAD_NAME_CHARS:
        first = first[: THREAD_NAME_CHARS - 3].rstrip() + "..."
    return first or "parley"


class DiscordSink:
    """One reply's messages: posted when the first text arrives, then edited at most every edit_interval.

    Its writes take from the budget of the channel (or thread) they go to, which ``paces`` shares
    with the other replies there: ``EDIT_BURST`` at once, refilled one per ``edit_interval``.
    """

    def __init__(
        self,
        destination: Destination,
        *,
        edit_interval: float,
        on_posted: Callable[[str], Awaitable[None]] | None = None,
        grace: float = 0.0,
        paces: PaceBook | None = None,
    ) -> None:
        self._destination = destination
        self._limits = SinkLimits(
            MAX_CHARS, edit_interval, None, measure=shown_length, edit_burst=EDIT_BURST, grace=grace
        )
        self._on_posted = on_posted
        self._deleted: set[str] = set()
        self._paces = paces or PaceBook()

    @property
    def limits(self) -> SinkLimits:
        return self._limits

    def pace(self) -> Pace:
        rate = rate_of(self._limits.edit_interval)
        return Pace([self._paces.bucket(bucket_name(self._destination.place_id), per_second=rate, burst=EDIT_BURST)])

    async def post(self, text: str) -> str:
        """Send ``text`` as a new message. The core cuts what it streams to ``limits``, but not a command's
        answer (which can echo a long value): a text longer than Discord takes goes out as several messages,
        and the last one's id is returned."""
        shown = neutralised(text)
        parts = split(shown, MAX_CHARS) or [shown]
        for part in parts[:-1]:
            await self._send(part)
        return await self._send(parts[-1])

    async def _send(self, text: str) -> str:
        channel = await self._destination.channel()
        reference = self._destination.reference
        if reference is not None:
            sent = await channel.send(text, allowed_mentions=NO_MENTIONS, reference=reference, mention_author=False)
        else:
            sent = await channel.send(text, allowed_mentions=NO_MENTIONS)
        if self._on_posted is not None:
            await self._on_posted(str(sent.id))
        return str(sent.id)

    async def edit(self, message_id: str, text: str) -> None:
        """Replace the message's text; a message someone deleted (a moderator) stays deleted."""
        if message_id in self._deleted:
            return
        channel = await self._destination.channel()
        try:
            await channel.get_partial_message(int(message_id)).edit(
                content=neutralised(text), allowed_mentions=NO_MENTIONS
            )
        except discord.NotFound as error:
            if error.code != UNKNOWN_MESSAGE:
                raise
            self._deleted.add(message_id)
            log.info("message %s was deleted while the reply was written: it is not edited any more", message_id)

    async def offer_feedback(self, message_id: str) -> str:
        """A helpdesk answer's last message gets 👍 / 👎 and "Talk to a person" (its text stays as it is)."""
        if message_id in self._deleted:
            return message_id
        channel = await self._destination.channel()
        view = feedback_view()
        view.stop()  # its clicks reach on_interaction by custom id: discord.py need not keep the view for good
        try:
            await channel.get_partial_message(int(message_id)).edit(view=view)
        except discord.HTTPException as error:  # the answer stands without its buttons
            log.warning("could not add the feedback buttons to message %s: %s", message_id, error)
        return message_id

    async def hand_off(self, text: str, group: str | None) -> str:
        """The hand-off notice, pinging only the on-call role; the conversation's first message gets 🆘."""
        channel = await self._destination.channel()
        sent = await channel.send(neutralised(text), allowed_mentions=group_mentions(group))
        if self._destination.first_message is not None:
            await mark(self._destination.first_message, SOS)
        return str(sent.id)

    @asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        """Discord's typing indicator until the first text is shown (a failure to show it is only logged)."""
        channel = await self._destination.channel()
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(channel.typing())
            except discord.HTTPException as error:
                log.warning("could not show typing: %s", error)
            yield
