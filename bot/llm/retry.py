"""The one retry policy of the HTTP backends: which failures are worth another attempt, and when.

A failure is retried when it is retryable (``unavailable``: 5xx, 529, a connection error or an
overloaded error event; ``rate_limited``: 429) and its Retry-After, if it sent one, is at most
``max_retry_wait``. The wait is the Retry-After, else an exponential backoff with jitter. After
``max_retries`` retries the last failure is raised.
"""

from __future__ import annotations

import logging
from functools import partial

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.llm.base import BackendError

log = logging.getLogger(__name__)

_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=8, jitter=0.25)


def retrying(*, max_retries: int, max_retry_wait: float) -> AsyncRetrying:
    """Attempts for one request (``async for attempt in retrying(...): with attempt: ...``)."""
    return AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=_wait,
        retry=retry_if_exception(partial(worth_retrying, max_retry_wait=max_retry_wait)),
        before_sleep=_log_retry,
        reraise=True,
    )


def worth_retrying(error: BaseException, *, max_retry_wait: float) -> bool:
    """A retryable BackendError that asks for no longer a wait than we are willing to give."""
    if not isinstance(error, BackendError) or not error.retryable:
        return False
    return error.retry_after is None or error.retry_after <= max_retry_wait


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, BackendError) and error.retry_after is not None:
        return error.retry_after
    return float(_BACKOFF(state))


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("model call failed (%s); retry %d in %.1fs", error, state.attempt_number, wait)
