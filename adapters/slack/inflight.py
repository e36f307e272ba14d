"""Replies being written when parley is asked to stop: given time to finish, then cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)

GRACE_SECONDS = 8.0
"""Within `docker stop`'s 10 s: a reply that is nearly done gets finished and remembered."""


class InFlight:
    """The listener tasks that are answering right now (Bolt runs each in a task of its own)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def drain(self, grace: float = GRACE_SECONDS) -> None:
        """Stop taking work; wait up to ``grace`` seconds for the running replies, then cancel the rest."""
        self.closing = True
        pending = {task for task in self._tasks if not task.done()}
        if not pending:
            return
        log.warning("Slack: finishing %d reply(ies) before stopping (at most %.0f s)", len(pending), grace)
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            log.warning("Slack: %d reply(ies) cut short by the shutdown", len(late))
            await asyncio.gather(*late, return_exceptions=True)
