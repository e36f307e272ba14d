"""Streaming one reply into a sink: coalesce tokens, pace edits, split long replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress

from bot.ledger import ReplyLedger, post_new
from bot.pacing import Pace, WriteKind
from bot.sink import CompleteSink, FinishingSink, PacedSink, ReplySink, StatusSink
from bot.split import MIN_LIMIT, cut

LOOKAHEAD = 200
KEEP_FOR_LAST = 1.0
"""An edit mid-stream leaves this much of the budget (when it holds more than one) for a last edit;
a reply's first text is posted whenever a write is left."""


class ReplyStreamer:
    """Shows a reply while it is written, within the sink's limits and rate budget.

    Text is shown by posting a message and then editing it, mid-stream no more often than
    ``limits.edit_interval`` and only while the budget (``PacedSink.pace``, or the reply's own:
    ``edit_burst`` writes refilled one per ``edit_interval``) keeps a write to spare for the
    last edit. That last edit, and a message finished because it is full, go out at once
    unless the budget is actually spent. When the text outgrows ``limits.max_chars`` the
    message is finished at a paragraph (or code fence) boundary and the rest continues in a
    new message. Nothing empty is ever posted. A sink that can show a status
    (``StatusSink``) shows it until the first text is shown; with ``limits.grace`` the status
    and the placeholder wait that long for the first text, and a fast answer needs neither. A sink
    that posts a complete message more cheaply (``CompleteSink``) is given no text within the
    grace: a reply that ends within it is posted once, complete; one still being written when the
    grace ends is shown from then on. With a ``ReplyLedger`` (a queued job's reply), every new message
    goes through it: recorded as it is posted, or an earlier attempt's message edited instead.
    """

    def __init__(
        self,
        sink: ReplySink,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        ledger: ReplyLedger | None = None,
    ) -> None:
        self._sink = sink
        self._ledger = ledger
        self._limits = sink.limits
        self._clock = clock
        self._sleep = sleep
        self._full: list[str] = []
        self._pending = ""  # the text the current message should show
        self._shown = ""  # what it shows now
        self._message_id: str | None = None
        self._last_write = float("-inf")
        self._status = AsyncExitStack()
        self._own_pace = Pace.every(self._limits.edit_interval, self._limits.edit_burst, clock)
        self._grace: asyncio.Task[None] | None = None
        self._graced = False  # the grace is over: the status and placeholder are being shown
        self._holds = isinstance(sink, CompleteSink)  # text within the grace waits for it (or for the end)

    @property
    def text(self) -> str:
        return "".join(self._full)

    async def start(self) -> None:
        waits = isinstance(self._sink, StatusSink) or bool(self._limits.placeholder)
        if (waits or self._holds) and self._limits.grace > 0:
            self._grace = asyncio.create_task(self._after_grace())
        else:
            await self._show_waiting()

    async def _after_grace(self) -> None:
        await self._sleep(self._limits.grace)
        self._graced = True  # from here on the task is awaited, never cancelled: a post is never cut short
        held = self._pending[: self._fit(self._pending)] if self._holds else ""
        if held.strip():  # the reply is still being written: show it from here on, no status or placeholder
            await self._write(held, wait=True)
        else:
            await self._show_waiting()

    async def _show_waiting(self) -> None:
        if isinstance(self._sink, StatusSink):
            await self._status.enter_async_context(self._sink.waiting())
        placeholder = self._limits.placeholder
        if placeholder:
            await self._pace().take("post", self._sleep)
            self._message_id = await self._post(placeholder)
            self._shown = placeholder
            self._last_write = self._clock()

    async def _stop_grace(self) -> None:
        """The first text is here (or the reply ended): no status or placeholder after all, or the shown one."""
        task, self._grace = self._grace, None
        if task is None:
            return
        if not self._graced:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    def _pace(self) -> Pace:
        return self._sink.pace() if isinstance(self._sink, PacedSink) else self._own_pace

    async def feed(self, delta: str) -> None:
        self._full.append(delta)
        self._pending += delta
        await self._seal(final=False, measured=self._due())
        if self._due():
            await self._show(self._pending[: self._fit(self._pending)], wait=False)

    async def finish(self) -> str:
        """Show the complete text; return the whole reply as the model wrote it."""
        await self._seal(final=True)
        await self._show(self._pending, wait=True, complete=True)
        await self._stop_grace()
        await self._finished(self._message_id)
        return self.text

    def _due(self) -> bool:
        """Whether the text may be shown now: no grace holds it and the edit interval has passed."""
        return not self._holding() and self._clock() - self._last_write >= self._limits.edit_interval

    def _holding(self) -> bool:
        """Whether text that came in waits: the sink posts a complete reply more cheaply, within the grace
        (and while the grace's end posts the text so far: no edit races that post for the budget)."""
        return self._holds and self._grace is not None and not self._grace.done()

    async def _finished(self, message_id: str | None) -> None:
        if message_id is not None and isinstance(self._sink, FinishingSink):
            await self._sink.finished(message_id)

    async def _seal(self, *, final: bool, measured: bool = True) -> None:
        """Finish messages that are full, cutting where ``split.cut`` chooses.

        Without ``measured`` only the characters are counted, not the platform's measure: a token
        that does not lead to a write costs no conversion of the whole text (the next write measures).

        Mid-stream, a cut waits until the line at the limit is complete (or
        LOOKAHEAD more characters are in): a half-received line could be the
        start of a code fence, and cutting it would break the fence.
        """
        while self._too_long(self._pending, measured=measured) and (final or self._settled()):
            head, self._pending = self._cut(self._pending)
            if not head.strip():  # only blank lines so far: keep the current message for the text to come
                continue
            await self._show(head, wait=True, complete=True)
            await self._finished(self._message_id)
            self._message_id, self._shown = None, ""

    def _settled(self) -> bool:
        fits = self._fit(self._pending)
        return "\n" in self._pending[fits:] or len(self._pending) >= fits + LOOKAHEAD

    def _too_long(self, text: str, *, measured: bool = True) -> bool:
        limit = self._limits.max_chars
        return len(text) > limit or (measured and self._limits.measure(text) > limit)

    def _fit(self, text: str) -> int:
        """How many characters from the start of ``text`` one message can show, as the platform measures."""
        limit, measure = self._limits.max_chars, self._limits.measure
        size = min(len(text), limit)
        while size > 0 and (excess := measure(text[:size]) - limit) > 0:
            size -= excess
        return max(size, 0)

    def _cut(self, text: str) -> tuple[str, str]:
        """``split.cut``, with a smaller window while the head measures more than the limit."""
        limit = window = self._limits.max_chars
        while True:
            head, rest = cut(text, window)
            excess = self._limits.measure(head) - limit
            if excess <= 0 or window <= MIN_LIMIT:
                return head, rest
            window = max(MIN_LIMIT, window - excess)

    async def fail(self, notice: str) -> None:
        """Tell the user the reply failed: after all the text received so far, or in place of a bare placeholder."""
        await self._stop_grace()
        await self._status.aclose()
        await self._seal(final=True)
        if self._pending.strip():
            await self._show(self._pending, wait=True)  # the last edit may be older than the text that came in
            await self._finished(self._message_id)
            await self._finished(await self._post(notice))
        elif self._message_id is not None and self._shown == self._limits.placeholder:
            await self._show(notice, wait=True)
            await self._finished(self._message_id)
        else:
            await self._finished(self._message_id)
            await self._pace().take("post", self._sleep)
            await self._finished(await self._post(notice))

    async def aclose(self) -> None:
        """End the status, if one is still shown (a reply that ended in an unexpected error)."""
        await self._stop_grace()
        await self._status.aclose()

    async def _show(self, text: str, *, wait: bool, complete: bool = False) -> None:
        """Write ``text``: with ``wait`` as soon as the budget allows; without, now or not at all.
        ``complete``: the message will not be edited after this (a ``CompleteSink`` posts it so)."""
        if not text.strip() or text == self._shown:
            return
        await self._stop_grace()
        await self._write(text, wait=wait, complete=complete)

    async def _write(self, text: str, *, wait: bool, complete: bool = False) -> None:
        kind: WriteKind = "post" if self._message_id is None else "edit"
        if wait:
            await self._pace().take(kind, self._sleep)
        elif not self._pace().try_take(kind, keep=KEEP_FOR_LAST if kind == "edit" else 0.0):
            return
        await self._status.aclose()
        if self._message_id is None:
            self._message_id = await self._post(text, complete=complete)
        else:
            await self._sink.edit(self._message_id, text)
        self._shown = text
        self._last_write = self._clock()

    async def _post(self, text: str, *, complete: bool = False) -> str:
        if self._ledger is not None:
            return await self._ledger.post(self._sink, text, complete=complete)
        return await post_new(self._sink, text, complete=complete)
