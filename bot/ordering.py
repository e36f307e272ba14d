"""Arrival order: the turns of one thread run one at a time, first come first served."""

from __future__ import annotations

import asyncio

from bot.threads import ThreadKey


class Slot:
    def __init__(
        self,
        queue: ArrivalOrder,
        thread: ThreadKey,
        previous: asyncio.Future[None] | None,
        done: asyncio.Future[None],
    ) -> None:
        self._queue = queue
        self._thread = thread
        self._previous = previous
        self._done = done

    async def wait(self) -> None:
        """Return once every turn of this thread that arrived earlier has finished."""
        if self._previous is not None and not self._previous.done():
            await asyncio.wait([self._previous])

    def release(self) -> None:
        """Let the next turn go, but never before the ones ahead of this one are done."""
        previous = self._previous
        if previous is not None and not previous.done():
            previous.add_done_callback(lambda _: self._finish())
        else:
            self._finish()

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
        self._queue._forget(self._thread, self._done)


class ArrivalOrder:
    """Per-thread FIFO within this process; a place is taken synchronously on arrival."""

    def __init__(self) -> None:
        self._tails: dict[ThreadKey, asyncio.Future[None]] = {}

    def reserve(self, thread: ThreadKey) -> Slot:
        previous = self._tails.get(thread)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[thread] = done
        return Slot(self, thread, previous, done)

    def _forget(self, thread: ThreadKey, done: asyncio.Future[None]) -> None:
        if self._tails.get(thread) is done:
            del self._tails[thread]

    def __len__(self) -> int:
        return len(self._tails)
