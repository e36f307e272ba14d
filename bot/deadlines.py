"""Time limits on a model's stream: a first-token timeout and a total cap per reply.

``timed`` passes a backend's items through and raises when a limit passes:
``BackendError("timeout")`` when no first item came in time (a fallback may then
answer), ``ReplyCapped`` when the reply as a whole ran out of time. The stream
being waited on is cancelled at its current await, as a timeout in asyncio does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

from bot.llm.base import BackendError

T = TypeVar("T")


class ReplyCapped(Exception):
    """The reply reached the channel's total time cap."""


async def timed(
    stream: AsyncIterator[T], *, first_within: float | None, deadline: float | None
) -> AsyncGenerator[T, None]:
    """``stream``'s items; ``first_within`` in seconds from now, ``deadline`` in the loop's clock."""
    loop = asyncio.get_running_loop()
    first_by = loop.time() + first_within if first_within is not None else None
    while True:
        if deadline is not None and loop.time() >= deadline:
            raise ReplyCapped
        limits = [when for when in (first_by, deadline) if when is not None]
        limit = asyncio.timeout_at(min(limits) if limits else None)
        try:
            async with limit:
                item = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            if not limit.expired():
                raise
            if first_by is not None and (deadline is None or first_by < deadline):
                raise BackendError("timeout", f"no first token within {first_within:g}s") from None
            raise ReplyCapped from None
        first_by = None
        yield item
