"""What came before parley was first mentioned in a Discord thread or reply chain, read once.

The core says how many messages to read (``Conversation.context_wanted``: none once it remembers
the conversation). A thread is read with its channel history before the mention; a reply chain by
following each message's reference back, up to that many. A read that fails is logged and the
answer goes on without it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import discord

from adapters.discord.events import readable
from bot.api import PriorMessage

log = logging.getLogger(__name__)

HUMAN_KINDS = (discord.MessageType.default, discord.MessageType.reply)
"""Messages someone wrote (joins, pins, thread starters and the like are not read)."""


READ_FAILURES = (discord.HTTPException, KeyError, TypeError, ValueError)
"""Discord refused, or answered with a message discord.py cannot read (a field missing or of another type)."""

PATIENCE_SECONDS = 10.0
"""How long the answer waits for what came before (discord.py waits out rate limits itself): past that,
parley answers without it."""


async def thread_before(
    thread: discord.PartialMessageable, mention: discord.abc.Snowflake, limit: int
) -> list[discord.Message]:
    """The thread's newest ``limit`` messages before the mention, oldest first."""
    try:
        async with asyncio.timeout(PATIENCE_SECONDS):
            found = [earlier async for earlier in thread.history(limit=limit, before=mention)]
    except (*READ_FAILURES, TimeoutError) as error:
        log.warning("reading thread %s failed: %s", thread.id, error or "it took too long")
        return []
    found.reverse()
    return found


async def chain_before(channel: discord.abc.Messageable, mention: discord.Message, limit: int) -> list[discord.Message]:
    """The reply chain the mention answers, up to ``limit`` messages back, oldest first."""
    found: list[discord.Message] = []
    try:
        async with asyncio.timeout(PATIENCE_SECONDS):
            await _follow(channel, mention, limit, found)
    except (*READ_FAILURES, TimeoutError) as error:
        log.warning("reading the reply chain of %s failed: %s", mention.id, error or "it took too long")
    found.reverse()
    return found


async def _follow(
    channel: discord.abc.Messageable, mention: discord.Message, limit: int, found: list[discord.Message]
) -> None:
    """The messages the mention replies to, newest first, into ``found`` (what was read stays if one fails)."""
    reference = mention.reference
    while reference is not None and reference.message_id is not None and len(found) < limit:
        resolved = reference.resolved
        earlier = (
            resolved if isinstance(resolved, discord.Message) else await channel.fetch_message(reference.message_id)
        )
        found.append(earlier)
        reference = earlier.reference


def prior_messages(messages: Sequence[discord.Message], bot_id: int) -> tuple[PriorMessage, ...]:
    """The messages as the core takes them: each with its author's display name, mentions shown as names;
    parley's own are left out."""
    prior: list[PriorMessage] = []
    for message in messages:
        shared = [f"[file: {attachment.filename}]" for attachment in message.attachments]
        text = " ".join(part for part in (readable(message.content, message).strip(), *shared) if part)
        if message.type not in HUMAN_KINDS or not text or message.author.id == bot_id:
            continue  # parley's own: its answers are in the history already; a notice is no context
        prior.append(PriorMessage(message.author.display_name, text))
    return tuple(prior)
