"""Files attached to a Slack message: downloaded with the bot token (the ``files:read`` scope).

Only the files the core would read are downloaded (``worth_fetching``); the core notes the others.
Slack answers a download the app may not make with a sign-in page (``text/html``), not an error:
that file gets a problem that says what to fix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.api import Attachment, FilesConfig, worth_fetching

log = logging.getLogger(__name__)

NO_ACCESS = (
    "Slack sent a sign-in page instead of the file: the app lacks access to files "
    "(add the files:read scope and reinstall it)"
)
NOT_HERE = "Slack does not hold this file (it is stored elsewhere, or hidden on this plan)"
TIMEOUT = aiohttp.ClientTimeout(total=60)


async def fetch_files(
    files: Sequence[Mapping[str, Any]], token: str, limits: FilesConfig, session: aiohttp.ClientSession | None = None
) -> tuple[Attachment, ...]:
    """The message's files, with the content of those worth reading, downloaded over ``session`` (the adapter's
    kept-alive one) or, without one, a session of their own."""
    if session is not None:
        return await _fetch_all(session, files, token, limits)
    async with aiohttp.ClientSession() as own:
        return await _fetch_all(own, files, token, limits)


async def _fetch_all(
    session: aiohttp.ClientSession, files: Sequence[Mapping[str, Any]], token: str, limits: FilesConfig
) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for file in files:
        name = str(file.get("name") or file.get("title") or file.get("id") or "file")
        media_type, size = str(file.get("mimetype") or ""), int(file.get("size") or 0)
        url = file.get("url_private_download") or file.get("url_private")
        if not worth_fetching(name, media_type, size, limits):
            found.append(Attachment(name, media_type, size))
        elif file.get("mode") in ("external", "tombstone", "hidden_by_limit") or not url:
            found.append(Attachment(name, media_type, size, problem=NOT_HERE))
        else:
            found.append(await _download(session, str(url), token, Attachment(name, media_type, size), limits))
    return tuple(found)


async def _download(
    session: aiohttp.ClientSession, url: str, token: str, file: Attachment, limits: FilesConfig
) -> Attachment:
    cap = max(limits.max_file_bytes, limits.max_image_bytes)
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT) as response:
            if response.status != 200:
                return _problem(file, f"Slack answered {response.status} to the download")
            if response.content_type == "text/html" and file.media_type != "text/html":
                return _problem(file, NO_ACCESS)
            data = await response.content.read(cap + 1)
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("Slack: downloading a file (%s, %d bytes) failed: %s", file.media_type, file.size, error)
        return _problem(file, "the download failed")
    return Attachment(file.name, file.media_type, max(file.size, len(data)), data)


def _problem(file: Attachment, problem: str) -> Attachment:
    log.warning("Slack: a file (%s, %d bytes) not read: %s", file.media_type, file.size, problem)  # a name is text
    return Attachment(file.name, file.media_type, file.size, problem=problem)
