"""The turns the client has handed to the core that are still running, by conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bot.api import ThreadKey


class RunningTurns:
    def __init__(self) -> None:
        self._running: dict[ThreadKey, set[asyncio.Task[None]]] = {}

    def start(self, thread: ThreadKey, turn: Coroutine[Any, Any, None]) -> None:
        """Run the turn in a task of its own; it counts as running until it ends."""
        task = asyncio.create_task(turn)
        self._running.setdefault(thread, set()).add(task)
        task.add_done_callback(lambda done: self._forget(thread, done))

    def any_in(self, thread: ThreadKey) -> bool:
        """Whether a turn of this conversation is still running (a new one would wait for it)."""
        return bool(self._running.get(thread))

    async def settled(self) -> None:
        """Wait until every turn handed to the core so far has ended."""
        while tasks := [task for tasks in self._running.values() for task in tasks]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def cancel(self) -> None:
        """Stop every running turn and wait until they have stopped."""
        tasks = [task for tasks in self._running.values() for task in tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, thread: ThreadKey, task: asyncio.Task[None]) -> None:
        tasks = self._running.get(thread)
        if tasks is None:
            return
        tasks.discard(task)
        if not tasks:
            del self._running[thread]
