"""Discord's REST calls, counted for ``/metrics`` (``parley_platform_calls_total{platform="discord"}``).

The trace goes on discord.py's HTTP session (its ``http_trace``, beside ``pacing.rate_limit_trace``):
the gateway client's in ``parley run`` and the REST-only login's in ``parley worker``. Each request
counts once, the ones discord.py sends again after a 429 included. The gateway's websocket is not counted.

- method: the HTTP verb and the route as a template with every id, token and emoji replaced
  (``POST /channels/{id}/messages``, ``POST /interactions/{id}/{token}/callback``,
  ``PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me``); ``cdn.download`` for an attachment's
  content (any URL outside the REST API: the CDN's paths name the file).
- status: the HTTP status, or 0 when no answer came (``adapters/platform_calls.py``).
"""

from __future__ import annotations

import re

import aiohttp
from discord.http import Route
from yarl import URL

from adapters.platform_calls import count_calls
from bot.api import Metrics

PLATFORM = "discord"
DOWNLOAD = "cdn.download"
ID, TOKEN, EMOJI = "{id}", "{token}", "{emoji}"
WORD = re.compile(r"@?[a-z][a-z0-9-]{0,31}")
"""A route's own word (``channels``, ``thread-members``, ``@me``, ``oauth2``): kept; anything else is a value."""
TOKEN_AFTER = ("interactions", "webhooks")
"""Routes whose id is followed by a token: ``/interactions/{id}/{token}/callback``, ``/webhooks/{id}/{token}``."""


def route_template(verb: str, url: URL, api_url: str) -> str:
    """The ``method`` label of a request, when the REST API is at ``api_url`` (discord.py's ``Route.BASE``)."""
    api = URL(api_url)
    base = api.path.rstrip("/")
    if url.origin() != api.origin() or not url.path.startswith(base + "/"):
        return DOWNLOAD
    parts: list[str] = []
    for segment in url.path.removeprefix(base + "/").split("/"):
        if parts[-1:] == ["reactions"]:
            parts.append(EMOJI)
        elif len(parts) >= 2 and parts[-2] in TOKEN_AFTER and parts[-1] == ID:
            parts.append(TOKEN)
        elif segment.isdigit():
            parts.append(ID)
        else:
            parts.append(segment if not segment or WORD.fullmatch(segment) else TOKEN)
    return f"{verb} /" + "/".join(parts)


def discord_call_trace(metrics: Metrics, trace: aiohttp.TraceConfig) -> aiohttp.TraceConfig:
    """``trace`` (discord.py takes one) counting each request of its session in ``metrics`` too."""
    return count_calls(metrics, PLATFORM, lambda verb, url: route_template(verb, url, Route.BASE), trace)
