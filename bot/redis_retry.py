"""Riding out a Redis blip: commands retried for a bounded time, and a health check that never waits.

``BoundedRetry`` is the retry policy of every connection in the process's pool (``bot/runtime.py``
``pooled_redis``). redis-py runs each command, pipeline and transaction (MULTI/EXEC), and each
script call (EVAL, EVALSHA; a script Redis forgot in a restart is loaded again on NOSCRIPT) through
it, and connecting too: a connection, timeout or still-loading error closes the connection, waits
(exponential backoff with jitter) and sends again, until ``seconds`` have passed since the first
try. Then the last error is raised. So a command waits out a restart of a few seconds, and a Redis
gone for good costs each command at most ``seconds`` plus one attempt's socket timeout, never a hang.
A wrong password or a refused ACL is not retried.

Resending a write whose reply was lost could apply it twice; ``bot/store.py`` writes what must not
apply twice so that a resend finds it done (``Store`` ``once``).

``health_client`` is a second, tiny client on the same server for ``/healthz``: short socket
timeouts and no retry, so that a Redis that does not answer is reported within about a second
(not after the whole retry budget), and a busy main pool never makes a healthy Redis look down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

RETRIED = (RedisConnectionError, RedisTimeoutError, BusyLoadingError)
"""What a retry may cure: the server went away, did not answer in time, or is still loading its data."""
NOT_RETRIED = (AuthenticationError, AuthorizationError)
"""Connection errors a retry cannot cure: they are raised at once, as without retries."""
FIRST_WAIT = 0.05
LONGEST_WAIT = 1.0
HEALTH_SECONDS = 1.0
"""How long ``/healthz`` waits for Redis's answer, connecting or reading."""


class BoundedRetry(Retry):
    """Retry for ``seconds`` after the first failure, not a number of times.

    A connection holds its own copy (redis-py copies the policy into each connection), and one
    task uses a connection at a time; a retry nested in another on that connection (connecting
    while a command is resent) keeps the outer one's deadline, so the bound holds for the whole.
    """

    def __init__(self, seconds: float, on_error: Callable[[], None] | None = None) -> None:
        super().__init__(ExponentialWithJitterBackoff(cap=LONGEST_WAIT, base=FIRST_WAIT), 1_000_000, RETRIED)
        self.seconds = seconds
        self._on_error = on_error
        """Told of each failed try (``/metrics``'s ``parley_redis_errors_total``)."""
        self._deadline: float | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> BoundedRetry:
        """redis-py deep-copies the policy into each connection: the copy shares ``on_error``, not a copy of it."""
        return BoundedRetry(self.seconds, self._on_error)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BoundedRetry) and other.seconds == self.seconds and super().__eq__(other)

    __hash__ = Retry.__hash__

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        loop = asyncio.get_running_loop()
        outermost = self._deadline is None
        deadline = loop.time() + self.seconds if self._deadline is None else self._deadline
        self._deadline = deadline
        failures = 0
        try:
            while True:
                try:
                    return await do()
                except self._supported_errors as error:
                    if self._on_error is not None:
                        self._on_error()
                    if isinstance(error, NOT_RETRIED) or (is_retryable is not None and not is_retryable(error)):
                        raise
                    failures += 1
                    await (fail(error, failures) if with_failure_count else fail(error))
                    left = deadline - loop.time()
                    if left <= 0:
                        raise error
                    await asyncio.sleep(min(left, self._backoff.compute(failures)))
        finally:
            if outermost:
                self._deadline = None


def health_client(client: Redis) -> Redis:
    """A client of its own for health checks on ``client``'s server: at most two connections,
    ``HEALTH_SECONDS`` to connect and to answer, no retry. Close it with ``aclose``."""
    pool = client.connection_pool
    settings = {
        **pool.connection_kwargs,
        "socket_connect_timeout": HEALTH_SECONDS,
        "socket_timeout": HEALTH_SECONDS,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_error": [],
    }
    health = BlockingConnectionPool(
        connection_class=pool.connection_class, max_connections=2, timeout=HEALTH_SECONDS, **settings
    )
    return Redis.from_pool(health)
