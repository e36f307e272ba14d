"""A platform's API calls counted in ``parley_platform_calls_total{platform,method,status}`` (``/metrics``).

An aiohttp trace on the session an adapter's API client uses: one sample per HTTP request, so a call
that is answered 429 and sent again counts once with status "429" and once with the status of the retry.

- method: what the platform's ``MethodOf`` names the request (a bounded name: an API method, or a route
  template with every id replaced); None leaves the request out (a websocket, which is no API call).
- status: the HTTP status; ``NO_ANSWER`` (0) when no answer came (the connection failed, or timed out
  before the answer's headers). A request this process cancelled itself (it was stopping) is not counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from bot.api import Metrics

log = logging.getLogger(__name__)

NO_ANSWER = 0
"""The status of a request that got no HTTP answer."""

MethodOf = Callable[[str, URL], str | None]
"""The ``method`` label of a request (its HTTP verb, its URL), or None: not an API call, not counted."""


def count_calls(
    metrics: Metrics, platform: str, method_of: MethodOf, trace: aiohttp.TraceConfig | None = None
) -> aiohttp.TraceConfig:
    """``trace`` (or a new one) that also counts each request of its session in ``metrics``."""

    def count(verb: str, url: URL, headers: CIMultiDict[str], status: int) -> None:
        if headers.get("Upgrade", "").lower() == "websocket":
            return  # a gateway or Socket Mode connection: not an API call
        try:
            method = method_of(verb, url)
            if method is not None:
                metrics.platform_call(platform, method, status)
        except Exception:  # raised in a trace, it would fail the call itself: counting must never do that
            log.exception("metrics: a %s call could not be counted", platform)

    async def on_request_end(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        count(params.method, params.url, params.headers, params.response.status)

    async def on_request_exception(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
    ) -> None:
        if isinstance(params.exception, Exception):  # not a cancellation (a BaseException)
            count(params.method, params.url, params.headers, NO_ANSWER)

    trace = trace or aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    trace.on_request_exception.append(on_request_exception)
    return trace
