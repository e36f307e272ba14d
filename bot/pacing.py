"""Rate budgets for a platform's writes: token buckets shared by every reply streaming in one place.

A ``TokenBucket`` holds up to ``burst`` writes and refills at ``per_second``; a 429's
Retry-After empties it and holds its refill until then (``pause``). A ``Pace`` is what one
reply's writes take from: the buckets every write takes from (its channel's, say) and those
only edits take from (a platform's budget for its edit method, say). A ``PaceBook`` keeps the
buckets of one process by name, so replies in one channel share one budget.

A sink's ``edit_interval`` maps onto this as a bucket of ``edit_burst`` writes refilled one
per ``edit_interval``: on average no more writes than before, but a reply's last edit need not
wait for the interval when the budget has room.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol

Clock = Callable[[], float]
WriteKind = Literal["post", "edit"]
EPSILON = 1e-9
"""Rounding room: a bucket refilled for exactly the time it said to wait holds its write."""
BOOK_SIZE = 10_000
"""Buckets a book keeps before it forgets full ones (a full bucket is the same as a new one)."""


class TokenBucket:
    def __init__(self, *, per_second: float, burst: int, clock: Clock = time.monotonic) -> None:
        self._rate = per_second
        self._burst = float(max(1, burst))
        self._clock = clock
        self._tokens = self._burst
        self._stamp = clock()
        """When ``_tokens`` was counted; after a pause, when the refill starts again (in the future)."""

    @property
    def unlimited(self) -> bool:
        return math.isinf(self._rate)

    def tokens(self) -> float:
        if self.unlimited:
            return math.inf
        now = self._clock()
        if now > self._stamp:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
        return self._tokens

    def spares(self, keep: float) -> bool:
        """One write can be taken now and ``keep`` stay (as much of it as a bucket of this size can keep)."""
        return self.tokens() >= 1 + min(keep, self._burst - 1) - EPSILON

    def full(self) -> bool:
        return self.tokens() >= self._burst

    def wait(self) -> float:
        """Seconds until one write may be taken (0: now)."""
        missing = 1 - self.tokens()
        if missing <= EPSILON:
            return 0.0
        return max(0.0, self._stamp - self._clock()) + missing / self._rate

    def take(self) -> None:
        if not self.unlimited:
            self.tokens()
            self._tokens -= 1

    def pause(self, seconds: float) -> None:
        """The platform said to wait (429 Retry-After): nothing more until then, and refill from there."""
        if self.unlimited:
            return
        self.tokens()
        self._tokens = min(self._tokens, 0.0)
        self._stamp = max(self._stamp, self._clock() + max(0.0, seconds))

    async def refresh(self) -> None:
        """Catch up with the writes other processes took, for a budget they share (``bot/shared_pacing.py``);
        a bucket of this process alone is always up to date."""


class Pace:
    """The budgets one reply's writes take from: ``writes`` for every write, ``edits`` for edits only."""

    def __init__(self, writes: Sequence[TokenBucket] = (), edits: Sequence[TokenBucket] = ()) -> None:
        self._writes = tuple(writes)
        self._edits = tuple(edits)

    @classmethod
    def every(cls, interval: float, burst: int, clock: Clock = time.monotonic) -> Pace:
        """One bucket of ``burst`` writes refilled one per ``interval`` seconds (0: no limit)."""
        return cls([TokenBucket(per_second=rate_of(interval), burst=burst, clock=clock)])

    def _buckets(self, kind: WriteKind) -> tuple[TokenBucket, ...]:
        return self._writes + self._edits if kind == "edit" else self._writes

    def try_take(self, kind: WriteKind, *, keep: float = 0.0) -> bool:
        """Take one write now if every budget has one to spare beyond ``keep`` (kept for a reply's last edit)."""
        buckets = self._buckets(kind)
        if any(not bucket.spares(keep) for bucket in buckets):
            return False
        for bucket in buckets:
            bucket.take()
        return True

    async def take(self, kind: WriteKind, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Take one write, waiting only as long as a budget is actually spent."""
        buckets = self._buckets(kind)
        await _refresh(buckets)
        while (wait := max((bucket.wait() for bucket in buckets), default=0.0)) > 0:
            await sleep(wait)
            await _refresh(buckets)
        for bucket in buckets:
            bucket.take()


async def _refresh(buckets: Sequence[TokenBucket]) -> None:
    for bucket in buckets:
        await bucket.refresh()


def rate_of(interval: float) -> float:
    """Writes per second for one write per ``interval`` seconds (0: unlimited)."""
    return 1 / interval if interval > 0 else math.inf


class Sharing(Protocol):
    """Where a book's buckets come from when every process shares them (``bot/shared_pacing.py``)."""

    def bucket(self, name: str, *, per_second: float, burst: int, clock: Clock) -> TokenBucket: ...


class PaceBook:
    """One process's buckets by name (a channel, a workspace and method), made on first use.

    With ``shared`` (the core's, ``Conversation.pace_book``), each limited bucket is also a budget
    that every process on the same Redis writes through: one channel's replies share it wherever
    they are written. Bursts and pauses work the same either way."""

    def __init__(self, clock: Clock = time.monotonic, *, size: int = BOOK_SIZE, shared: Sharing | None = None) -> None:
        self._clock = clock
        self._size = size
        self._shared = shared
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(self, name: str, *, per_second: float, burst: int) -> TokenBucket:
        found = self._buckets.get(name)
        if found is None:
            if len(self._buckets) >= self._size:
                self._forget_full()
            if self._shared is not None and 0 < per_second < math.inf:
                found = self._shared.bucket(name, per_second=per_second, burst=burst, clock=self._clock)
            else:
                found = TokenBucket(per_second=per_second, burst=burst, clock=self._clock)
            self._buckets[name] = found
        return found

    def pause(self, name: str, seconds: float) -> None:
        """Slow ``name`` down for ``seconds`` (a 429's Retry-After), if anything writes there."""
        found = self._buckets.get(name)
        if found is not None:
            found.pause(seconds)

    def _forget_full(self) -> None:
        for name in [name for name, bucket in self._buckets.items() if bucket.full()]:
            del self._buckets[name]
