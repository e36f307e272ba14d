"""What the platform fakes saw: every text a bot showed in a conversation, with the time it arrived."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass

from bot.notices import FAILURES, SOMETHING_BROKE, THREAD_BUSY, UNREACHABLE

NOTICES = tuple(text[:40] for text in (SOMETHING_BROKE, THREAD_BUSY, UNREACHABLE, *FAILURES.values()))
"""The start of each notice parley shows instead of an answer: a reply that shows one has failed."""


@dataclass
class Reply:
    """One reply as the user saw it: when the message was sent, first showed answer text, showed all of it."""

    sent: float
    first: float | None = None
    complete: float | None = None
    notice: str | None = None
    """The notice the bot showed instead of the answer."""

    @property
    def first_ms(self) -> float | None:
        return None if self.first is None else (self.first - self.sent) * 1000

    @property
    def complete_ms(self) -> float | None:
        return None if self.complete is None else (self.complete - self.sent) * 1000


class Watch:
    """Texts shown per conversation key (a Slack thread ts, a Discord thread id); waiters for a given text."""

    def __init__(self) -> None:
        self._texts: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self._changed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def saw(self, key: str, text: str) -> None:
        """A bot showed ``text`` (posted, edited to, or streamed so far) in conversation ``key``."""
        self._texts[key].append((time.monotonic(), text.strip()))
        self._changed[key].set()

    def mark(self, key: str) -> int:
        """Where to start looking for the next reply in ``key``."""
        return len(self._texts[key])

    async def reply(self, key: str, since: int, expected: str, sent: float, limit: float) -> Reply:
        """Wait (up to ``limit`` seconds) until ``key`` shows ``expected``; when its first text showed, and all."""
        reply = Reply(sent)
        head = expected[:6]
        seen = since
        deadline = time.monotonic() + limit
        while True:
            texts = self._texts[key]
            for at, text in texts[seen:]:
                if reply.first is None and text.startswith(head):
                    reply.first = at
                if text == expected:
                    reply.complete = at
                    return reply
                if any(notice in text for notice in NOTICES):
                    reply.notice = text
                    return reply
            seen = len(texts)
            changed = self._changed[key]
            changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return reply
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return reply
