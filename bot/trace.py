"""The trace of one message: an id that follows it from the ingress through the queue, the backend call and the
platform reply, so that every log line about it can be found together (``trace_id`` in the JSON logs).

The id lives in a context variable: an ingress starts one when it accepts an event (``traced()``), the queue keeps
it in the message's entry, and the worker answers the job in a context that carries it again (``context_of``).
Tasks created inside a trace inherit it; ``bot/logs.py`` copies it onto each log record.
"""

from __future__ import annotations

import contextvars
import functools
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_TRACE: contextvars.ContextVar[str | None] = contextvars.ContextVar("parley_trace_id", default=None)


def new_trace_id() -> str:
    """A fresh id: 16 hexadecimal digits."""
    return uuid.uuid4().hex[:16]


def current_trace() -> str | None:
    """The trace the running code is part of, if any."""
    return _TRACE.get()


@contextmanager
def traced(trace_id: str | None = None) -> Iterator[str]:
    """Run the block in the trace ``trace_id`` (a new one when None); the trace before it is back afterwards."""
    token = _TRACE.set(trace_id or new_trace_id())
    try:
        yield _TRACE.get() or ""
    finally:
        _TRACE.reset(token)


def context_of(trace_id: str | None) -> contextvars.Context:
    """A copy of the current context in the trace ``trace_id`` (a new one when None), for ``create_task``."""
    context = contextvars.copy_context()
    context.run(_TRACE.set, trace_id or new_trace_id())
    return context


def in_trace(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """An async function that runs in its caller's trace, or in a new one when the caller has none."""

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with traced(current_trace()):
            return await function(*args, **kwargs)

    return run
