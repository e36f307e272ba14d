"""A worker side for the test platform "chat": jobs answered into RecordingSinks, one per thread."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from bot.conversation import Conversation
from bot.jobs import Job, Turn
from bot.messages import Author, IncomingMessage
from bot.threads import ThreadKey
from tests.support.recording_sink import RecordingSink

PLATFORM = "chat"


def chat_thread(name: str = "t1") -> ThreadKey:
    return ThreadKey(PLATFORM, "W1", "C1", name)


def payload(text: str, *, poison: bool = False) -> dict[str, Any]:
    return {"text": text, "user": "U1", "poison": poison}


class ChatHandler:
    """Rebuilds the message from the payload and answers it into the thread's sink (shared by every
    worker of a test, as the platform's thread is); a payload with ``poison`` raises instead."""

    platform = PLATFORM

    def __init__(self, sinks: dict[ThreadKey, RecordingSink] | None = None) -> None:
        self.sinks: dict[ThreadKey, RecordingSink] = sinks if sinks is not None else {}
        self.handled: list[tuple[str, int]] = []
        """(job id, attempt) of every job handed over."""
        self.told: list[tuple[str, str]] = []
        self.active: dict[ThreadKey, int] = {}
        self.overlaps = 0
        """Times two jobs of one thread were being answered at once."""

    def sink(self, thread: ThreadKey) -> RecordingSink:
        return self.sinks.setdefault(thread, RecordingSink())

    async def handle(self, job: Job, turn: Turn) -> None:
        self.handled.append((job.id, job.attempt))
        if job.payload.get("poison"):
            raise RuntimeError("poison message")
        message = IncomingMessage(
            job.thread, Author(str(job.payload["user"]), "User"), str(job.payload["text"]), job.event_id, True, False
        )
        self.active[job.thread] = self.active.get(job.thread, 0) + 1
        if self.active[job.thread] > 1:
            self.overlaps += 1
        try:
            await turn.answer(message, self.sink(job.thread))
        finally:
            self.active[job.thread] -= 1

    async def tell(self, job: Job, text: str) -> None:
        self.told.append((job.id, text))
        if job.replies:  # in place of the reply an attempt began
            await self.sink(job.thread).edit(job.replies[0], text)
        else:
            await self.sink(job.thread).post(text)


@contextlib.asynccontextmanager
async def running(
    core: Conversation, handlers: Mapping[str, Any], consumer: str = "w1"
) -> AsyncIterator[asyncio.Event]:
    """A worker running until the block ends (then stopped and drained); the event stops it earlier."""
    stop = asyncio.Event()
    task = asyncio.create_task(core.worker(handlers, consumer).run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await task


async def until(condition: Callable[[], bool], limit: float = 60.0) -> None:
    """Wait for ``condition`` (generously: the test is about the outcome, not the time)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.02)
