"""The messages this process queued that its own worker has not answered yet, by conversation (``parley run``).

The ingress asks ``any_in`` to know whether a new message waits behind earlier ones of its conversation
(then the settings it resolved may be changed by one of those, and the worker resolves them again). A job
another process answers is never seen finishing here: the oldest conversations are forgotten past
``MAX_THREADS``, so that an entry left behind costs at most a settings read, never memory without end.
"""

from __future__ import annotations

import asyncio

from bot.api import ThreadKey

MAX_THREADS = 10_000


class QueuedTurns:
    def __init__(self, max_threads: int = MAX_THREADS) -> None:
        self._queued: dict[ThreadKey, set[str]] = {}
        self._max = max_threads
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, thread: ThreadKey, event_id: str) -> None:
        """A message of ``thread`` was queued (before the queue has it: a worker may finish it at once)."""
        self._queued.setdefault(thread, set()).add(event_id)
        self._idle.clear()
        while len(self._queued) > self._max:
            del self._queued[next(iter(self._queued))]

    def done(self, thread: ThreadKey, event_id: str) -> None:
        """The message was answered (or will never be: a duplicate, a dead letter)."""
        events = self._queued.get(thread)
        if events is not None:
            events.discard(event_id)
            if not events:
                del self._queued[thread]
        if not self._queued:
            self._idle.set()

    def any_in(self, thread: ThreadKey) -> bool:
        """Whether a message of this conversation is still queued or being answered."""
        return bool(self._queued.get(thread))

    async def settled(self) -> None:
        """Wait until every message queued so far has been answered."""
        await self._idle.wait()
