"""Slack's Web API calls, counted for ``/metrics`` (``parley_platform_calls_total{platform="slack"}``).

The trace goes on the process's kept-alive session (``Workspaces.kept_alive``), which every Web API
client uses while it is open: Bolt's own and its per-request ones, the worker's per workspace, and
the file downloads. Each request counts once, slack_sdk's retries of a 429 or a 5xx included.

- method: the API method's name (``chat.postMessage``: the URL's path after SLACK_API_URL);
  ``files.download`` for a file's content (``url_private``, any URL outside the API: its path names
  the file); ``other`` for a path under the API that is no method's name.
- status: the HTTP status, or 0 when no answer came (``adapters/platform_calls.py``).

A client made while no session is open sends each call on a session of slack_sdk's own (and its files are
downloaded on one of ``files.py``'s), which is not traced: only a reply a worker begins once ``parley run`` is
stopping (its kept-alive session is closing).
"""

from __future__ import annotations

import re

import aiohttp
from yarl import URL

from adapters.platform_calls import count_calls
from bot.api import Metrics

PLATFORM = "slack"
DOWNLOAD = "files.download"
OTHER = "other"
METHOD_NAME = re.compile(r"[A-Za-z]+(?:\.[A-Za-z]+)+")
"""What a Web API method's name looks like (``chat.postMessage``, ``assistant.threads.setStatus``)."""


def method_name(url: URL, api_url: str) -> str:
    """The ``method`` label of a request to ``url``, when the Web API is at ``api_url``."""
    api = URL(api_url)
    if url.origin() != api.origin() or not url.path.startswith(api.path.rstrip("/") + "/"):
        return DOWNLOAD
    name = url.path.removeprefix(api.path.rstrip("/") + "/")
    return name if METHOD_NAME.fullmatch(name) else OTHER


def slack_call_trace(metrics: Metrics, api_url: str) -> aiohttp.TraceConfig:
    """An aiohttp trace that counts each request of its session in ``metrics``."""
    return count_calls(metrics, PLATFORM, lambda verb, url: method_name(url, api_url))
