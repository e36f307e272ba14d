"""Files attached to a Discord message: downloaded from their attachment URLs when the core would read them."""

from __future__ import annotations

import logging

import aiohttp
import discord

from bot.api import Attachment, FilesConfig, worth_fetching

log = logging.getLogger(__name__)


async def fetch_files(attachments: list[discord.Attachment], limits: FilesConfig) -> tuple[Attachment, ...]:
    """The message's attachments, with the content of those worth reading (the core notes the others)."""
    found: list[Attachment] = []
    for attachment in attachments:
        name, media_type, size = attachment.filename, attachment.content_type or "", attachment.size
        if not worth_fetching(name, media_type, size, limits):
            found.append(Attachment(name, media_type, size))
            continue
        try:
            data = await attachment.read()
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:  # also: the host is unreachable
            log.warning("Discord: downloading %s failed: %s", name, error)
            found.append(Attachment(name, media_type, size, problem="Discord would not hand the file over"))
            continue
        found.append(Attachment(name, media_type, max(size, len(data)), data))
    return tuple(found)
