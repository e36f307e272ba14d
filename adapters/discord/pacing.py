"""Discord's 429s slow the channel they came from: discord.py waits them out itself, and parley's
budget for that channel (``PaceBook``, shared by its replies) waits as long before the next write."""

from __future__ import annotations

import re
from types import SimpleNamespace

import aiohttp
from multidict import CIMultiDictProxy

from bot.api import PaceBook

MESSAGES_ROUTE = re.compile(r"/channels/(\d+)/messages")


def bucket_name(place_id: int | str) -> str:
    """The budget of the channel (or thread) messages go to."""
    return f"discord:{place_id}"


def rate_limit_trace(paces: PaceBook) -> aiohttp.TraceConfig:
    """An aiohttp trace for discord.py's session: a 429 on a channel's messages pauses that channel's budget."""

    async def on_request_end(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if params.response.status != 429:
            return
        found = MESSAGES_ROUTE.search(params.url.path)
        if found is not None:
            paces.pause(bucket_name(found[1]), retry_after(params.response.headers))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    return trace


def retry_after(headers: CIMultiDictProxy[str]) -> float:
    for name in ("Retry-After", "X-RateLimit-Reset-After"):
        try:
            return max(0.0, float(headers[name]))
        except (KeyError, ValueError):
            continue
    return 1.0
