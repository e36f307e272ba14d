"""Request rate limits: how many messages parley answers a minute, per user and per channel.

``[rate_limits]`` sets them (``user_per_minute``, ``channel_per_minute``; 0: no limit). Each is a
sliding window of the last 60 seconds, kept in Redis so that every process shares it
(``Store.take_request``: one Lua step checks both windows and counts the message in both, or in
neither). A message over a limit gets a short notice saying when to try again; the model is not
called and nothing is stored. Commands are not limited: the conversation asks only before answering.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.ledger import ReplyLedger, say
from bot.messages import IncomingMessage
from bot.notices import rate_limited_text
from bot.outcome import turn_failed
from bot.sink import ReplySink
from bot.store import RateScope, Store

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
"""The sliding window the limits count in."""
MAX_PER_MINUTE = 100_000


class RateLimitsConfig(BaseModel):
    """``[rate_limits]``: messages parley answers a minute, from one user and in one channel (0: no limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_per_minute: int = Field(20, description="messages one user may have answered a minute, 0 for no limit")
    channel_per_minute: int = Field(120, description="messages answered a minute in one channel, 0 for no limit")

    @field_validator("user_per_minute", "channel_per_minute")
    @classmethod
    def _per_minute(cls, value: int) -> int:
        if not 0 <= value <= MAX_PER_MINUTE:
            allowed = f"a whole number of messages a minute, from 0 (no limit) to {MAX_PER_MINUTE}"
            raise ValueError(f"{allowed} (got {value})")
        return value


@dataclass(frozen=True, slots=True)
class RateCheck:
    """Whether a message may be answered now; if not, which limit it hit and when to try again."""

    allowed: bool
    scope: RateScope | None = None
    limit: int = 0
    retry_after: float = 0.0
    """Seconds until the window has room again."""


class RateLimits:
    """The limits of ``[rate_limits]``, counted in the store; ``clock``: epoch seconds (tests move it)."""

    def __init__(self, config: RateLimitsConfig, store: Store, clock: Callable[[], float]) -> None:
        self._config = config
        self._store = store
        self._clock = clock

    async def check(self, message: IncomingMessage) -> RateCheck:
        """Count the message against its author's and its channel's windows if both have room."""
        user_limit, channel_limit = self._config.user_per_minute, self._config.channel_per_minute
        if not user_limit and not channel_limit:
            return RateCheck(True)
        thread = message.thread
        refused, wait = await self._store.take_request(
            f"{thread.platform}:{message.author.id}",
            thread.channel_key,
            user_limit=user_limit,
            channel_limit=channel_limit,
            now=self._clock(),
            window=WINDOW_SECONDS,
            member=uuid.uuid4().hex,
        )
        if refused is None:
            return RateCheck(True)
        return RateCheck(False, refused, user_limit if refused == "user" else channel_limit, wait)

    async def admit(self, message: IncomingMessage, sink: ReplySink, ledger: ReplyLedger | None = None) -> bool:
        """Whether to answer the message; if not, the user is told when to try again (the turn fails)."""
        check = await self.check(message)
        if check.allowed or check.scope is None:
            return True
        seconds = max(1, math.ceil(check.retry_after))
        log.info("%s: turn rate-limited: %s limit of %d a minute (author %s); the model is not called, "
                 "retry in %ds", message.thread, check.scope, check.limit, message.author.id, seconds)  # fmt: skip
        turn_failed(sink)
        await say(sink, message.style.phrase(rate_limited_text(check.scope, check.limit, seconds)), ledger)
        return False
