"""Files attached to a Discord message: downloaded from their attachment URLs when the core would read them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import discord

from adapters.discord.payload import FileRef
from bot.api import Attachment, FilesConfig, worth_fetching

log = logging.getLogger(__name__)

Download = Callable[[str], Awaitable[bytes]]
"""Fetches a URL from Discord's CDN (``client.http.get_from_cdn``)."""


async def fetch_files(files: Sequence[FileRef], download: Download, limits: FilesConfig) -> tuple[Attachment, ...]:
    """The message's attachments, with the content of those worth reading (the core notes the others)."""
    found: list[Attachment] = []
    for file in files:
        name, media_type, size = file.name, file.media_type, file.size
        if not worth_fetching(name, media_type, size, limits):
            found.append(Attachment(name, media_type, size))
            continue
        try:
            data = await download(file.url)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:  # also: the host is unreachable
            log.warning("Discord: downloading a file (%s, %d bytes) failed: %s", media_type, size, error)
            found.append(Attachment(name, media_type, size, problem="Discord would not hand the file over"))
            continue
        found.append(Attachment(name, media_type, max(size, len(data)), data))
    return tuple(found)
