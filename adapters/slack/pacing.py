"""Slack's rate budgets for replies: per channel (every write) and per workspace for chat.update.

Slack limits ``chat.postMessage`` to about one a second per channel and ``chat.update`` (Tier 3)
to about 50 a minute per workspace. A reply's writes take from its channel's bucket (``edit_burst``
at once, refilled one per ``edit_interval``) and its edits from its workspace's too
(``updates_per_minute``). A 429 slows the channel (and, for chat.update, the workspace) for its
Retry-After, on top of slack_sdk retrying the call after it. The budgets are the core's, shared by every
parley process on one Redis, so a channel's limit holds however many of them write there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.api import Pace, PaceBook, rate_of

EDIT_BURST = 3
"""Writes a channel allows at once: a reply's first post, an edit, and its last edit without waiting."""
UPDATE = "chat.update"


def channel_bucket(channel: str) -> str:
    return f"slack:{channel}"


def updates_bucket(token: str | None) -> str:
    """A workspace's chat.update budget, named by its bot token (one per workspace), never the token itself."""
    return "slack-updates:" + hashlib.sha256((token or "").encode()).hexdigest()[:16]


class SlackPaces:
    """The process's Slack budgets, shared by every reply of every workspace."""

    def __init__(
        self,
        edit_interval: float,
        updates_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        book: PaceBook | None = None,
    ) -> None:
        self._book = book or PaceBook(clock)
        """The core's (``Conversation.pace_book``: shared by every process on its Redis), else this one's."""
        self._per_second = rate_of(edit_interval)
        self._updates = updates_per_minute
        self._writing_in: ContextVar[str | None] = ContextVar("slack_reply_channel", default=None)
        """The channel the current task's reply writes in (see ``writing_in``)."""

    @contextmanager
    def writing_in(self, channel: str) -> Iterator[None]:
        """A reply's Web API calls, made in here (in its task), are in ``channel``.

        slack_sdk sends chat.postMessage, chat.update and the streaming calls as JSON, which the
        request a retry handler sees does not carry: a 429 on one is put down to this channel.
        """
        token = self._writing_in.set(channel)
        try:
            yield
        finally:
            self._writing_in.reset(token)

    def for_reply(self, token: str | None, channel: str) -> Pace:
        writes = self._book.bucket(channel_bucket(channel), per_second=self._per_second, burst=EDIT_BURST)
        edits = self._book.bucket(updates_bucket(token), per_second=self._updates / 60, burst=self._updates)
        return Pace([writes], edits=[edits])

    def for_stream(self, channel: str) -> Pace:
        """A natively streamed reply's budget: its channel's only (its appends are no chat.update)."""
        return Pace([self._book.bucket(channel_bucket(channel), per_second=self._per_second, burst=EDIT_BURST)])

    def rate_limited(self, request: HttpRequest, response: HttpResponse) -> None:
        """A 429: nothing more in that channel (and workspace, for chat.update) until Retry-After has passed."""
        retry_after = _seconds(response.headers)
        params: dict[str, Any] = request.body_params or {}
        channel = params.get("channel") or self._writing_in.get()
        if channel:
            self._book.pause(channel_bucket(str(channel)), retry_after)
        if request.url.rstrip("/").endswith(UPDATE):
            auth = request.headers.get("Authorization") or request.headers.get("authorization") or ""
            token = auth if isinstance(auth, str) else auth[0] if auth else ""
            self._book.pause(updates_bucket(token.removeprefix("Bearer ")), retry_after)


def _seconds(headers: Mapping[str, list[str] | str]) -> float:
    for name, values in headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return max(0.0, float(values if isinstance(values, str) else values[0]))
            except ValueError:
                break
    return 1.0


class PacedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (after Retry-After), which first slows the reply budgets down."""

    def __init__(self, paces: SlackPaces, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._paces = paces

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None:
            self._paces.rate_limited(request, response)
        await super().prepare_for_next_attempt_async(state=state, request=request, response=response, error=error)
