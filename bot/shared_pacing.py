"""Write budgets every process shares: a platform's per-channel limits hold however many processes write there.

A ``SharedBucket`` is a ``TokenBucket`` (bursts, pauses and waits work as in one process) whose
count is kept in step with a token bucket of the same name in Redis (``Store.shared_bucket``, one
Lua step). Every write taken here, and every pause a 429 asks for, is sent there at once, in the
background; each answer brings back what every process took, and the local count adopts it.

A write that waits (``Pace.take``) first catches up (``refresh``, one round trip). One that is
taken only if the budget has room (a reply's edits mid-stream) is decided on the count as of the
last exchange when that is recent, and finds no room when it is not (the next write, or the
reply's last edit, which waits, goes out on a fresh count); a process's first write into a
channel is decided on its own count. Writes that went over that way leave the shared count below
zero: a debt the next writes in every process wait out, so the channel's rate holds over time.
When Redis cannot be reached, each process keeps its own count, as without sharing, until it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from redis.exceptions import RedisError

from bot.pacing import Clock, TokenBucket
from bot.store import Store

log = logging.getLogger(__name__)

SYNC_EVERY = 0.25
"""Seconds after which a bucket in use asks Redis again for what the other processes took."""
REFRESH_WAIT = 1.0
"""Seconds a write waits for Redis's count before it goes by this process's own."""
KEPT_FOR = 60
"""Seconds a shared bucket is kept in Redis after it would be full again (a full one is the same as none)."""


class SharedBudgets:
    """Hands a ``PaceBook`` buckets that every process on this Redis shares (``PaceBook(shared=...)``).

    ``wall``: the time the processes agree on (epoch seconds), for the count in Redis."""

    def __init__(self, store: Store, *, wall: Clock = time.time, sync_every: float = SYNC_EVERY) -> None:
        self._store = store
        self._wall = wall
        self.sync_every = sync_every
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing = False

    def bucket(self, name: str, *, per_second: float, burst: int, clock: Clock) -> TokenBucket:
        return SharedBucket(self, name, per_second=per_second, burst=burst, clock=clock)

    def start(self, bucket: SharedBucket) -> asyncio.Task[None] | None:
        """Run a bucket's exchange with Redis in the background (kept here until it ends); None without a
        running event loop (a bucket used outside one counts for this process alone)."""
        try:
            task = asyncio.get_running_loop().create_task(bucket.exchange())
        except RuntimeError:
            return None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self) -> None:
        """Wait until no exchange with Redis is under way."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def exchange(self, name: str, per_second: float, burst: int, taken: int, pause: float) -> tuple[float, float]:
        """Send writes taken and a pause to the shared bucket; its tokens left and the seconds it stays paused."""
        ttl = math.ceil(burst / per_second + pause) + KEPT_FOR
        found = await self._store.shared_bucket(
            name, now=self._wall(), per_second=per_second, burst=burst, taken=taken, pause=pause, ttl_seconds=ttl
        )
        if self._failing:
            self._failing = False
            log.warning("write budgets are shared through Redis again")
        return found

    def failed(self, name: str, error: Exception) -> None:
        if not self._failing:
            self._failing = True
            log.warning("write budget %s: Redis cannot be reached (%s): each process counts its own writes "
                        "until it can", name, error)  # fmt: skip


class SharedBucket(TokenBucket):
    """A token bucket of this process kept in step with the one every process shares (see the module)."""

    def __init__(self, budgets: SharedBudgets, name: str, *, per_second: float, burst: int, clock: Clock) -> None:
        super().__init__(per_second=per_second, burst=burst, clock=clock)
        self._budgets = budgets
        self._name = name
        self._size = max(1, burst)
        self._unsent = 0
        """Writes taken here that Redis has not been told of."""
        self._unsent_pause = 0.0
        self._exchange: asyncio.Task[None] | None = None
        self._synced = -math.inf
        """When (this process's clock) the count was last in step with Redis."""

    def spares(self, keep: float) -> bool:
        """Decided on the count as of the last exchange; when that is older than ``sync_every``, no room now,
        and an exchange is started for the next write. The first write into a channel, before any exchange,
        is decided on this process's count (a reply's first text is not held back)."""
        if self._clock() - self._synced < self._budgets.sync_every:
            return super().spares(keep)
        self._exchange_soon()
        return self._synced == -math.inf and super().spares(keep)

    def take(self) -> None:
        super().take()
        self._unsent += 1
        self._exchange_soon()

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        self._unsent_pause = max(self._unsent_pause, seconds)
        self._exchange_soon()

    async def refresh(self) -> None:
        """Catch up with what every process took: wait for the exchange under way, or one started now (at most
        ``REFRESH_WAIT`` seconds: a Redis that does not answer leaves this process's count)."""
        task = self._exchange_soon()
        if task is not None:
            # Shielded: a writer cancelled, or tired of waiting, does not cancel the writes being sent.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), REFRESH_WAIT)

    def _exchange_soon(self) -> asyncio.Task[None] | None:
        if self._exchange is None or self._exchange.done():
            self._exchange = self._budgets.start(self)
        return self._exchange

    async def exchange(self) -> None:
        """Tell Redis what was taken and paused here, and adopt its count; again while more came in meanwhile."""
        while True:
            taken, pause = self._unsent, self._unsent_pause
            self._unsent, self._unsent_pause = 0, 0.0
            try:
                tokens, paused = await self._budgets.exchange(self._name, self._rate, self._size, taken, pause)
            except (RedisError, OSError) as error:
                self._budgets.failed(self._name, error)
                self._synced = self._clock()  # not again before the next sync is due: this process counts alone
                return
            self._adopt(tokens - self._unsent, paused)  # writes taken while it was on its way are not in it yet
            if not self._unsent and not self._unsent_pause:
                return

    def _adopt(self, tokens: float, paused: float) -> None:
        now = self._clock()
        self._tokens = min(self._burst, tokens)
        self._stamp = max(self._stamp, now + paused)
        self._synced = now
