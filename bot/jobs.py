"""Accepting a message apart from answering it: the durable queue's face to the adapters.

An adapter's *ingress* side accepts a platform event: ``Conversation.enqueue(thread, event_id,
payload)`` deduplicates it and appends it to the queue (a Redis stream) in one step, and only
then does the adapter acknowledge the platform. A *worker* (any process: ``parley run`` runs
one beside its adapters, ``parley worker`` only that) takes queued jobs, in arrival order per
thread, and hands each to the ``JobHandler`` of its platform, which rebuilds the message and
the reply sink from the payload its ingress wrote and calls ``Turn.answer``. The job is
acknowledged once the handler returns; a job whose worker died is taken again by another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.messages import IncomingMessage
from bot.settings import ChannelSettings
from bot.sink import ReplySink
from bot.threads import ThreadKey


class QueueUnavailable(Exception):
    """Redis could not take the message (after retries): the adapter must not acknowledge the platform,
    so that the platform delivers it again (an HTTP webhook: answer 503)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One accepted message, as a worker takes it from the queue."""

    id: str
    """The queue's id for it (a stream entry id)."""
    thread: ThreadKey
    event_id: str
    """The platform's id for the delivery, as the ingress passed it to ``enqueue`` (deduplicated with the
    platform's name: ``{platform}:{event_id}``, the key ``Conversation.receive`` claims too)."""
    payload: Mapping[str, Any]
    """What the platform's ingress wrote (JSON): all its handler needs to answer."""
    attempt: int = 1
    """1 for the first delivery; more when a worker died or failed on it before."""
    replies: tuple[str, ...] = field(default=())
    """The platform message ids earlier attempts posted in the thread, oldest first: a new attempt
    edits these (``Turn.answer`` does it) instead of posting a second reply."""
    seq: int = 0
    """Its place in its thread's arrival order (1, 2, ...): jobs of a thread are answered in that order."""
    shard: int = 0
    """The queue's stream it is in (``[queue] shards``)."""
    trace: str = ""
    """The message's trace id (``bot/trace.py``), as its ingress started it: the worker answers it in that trace."""


class Turn(Protocol):
    """What a handler is given to answer its job with."""

    async def answer(self, message: IncomingMessage, sink: ReplySink, settings: ChannelSettings | None = None) -> None:
        """Decide, then lock, answer and store one message (as ``Conversation.receive`` does after dedup
        and ordering); the reply's messages are recorded as they are posted, and those of earlier
        attempts are edited rather than posted again. Raises when the turn could not be completed
        (the job then stays queued and is tried again)."""
        ...


class JobHandler(Protocol):
    """An adapter's worker side: answers the jobs its ingress queued, through the platform's Web/REST API."""

    platform: str
    """The ``ThreadKey.platform`` of the jobs it answers."""

    async def handle(self, job: Job, turn: Turn) -> None:
        """Rebuild the message and its sink from ``job.payload`` and call ``turn.answer`` (or not, when
        there is nothing to answer). Raising leaves the job queued, to be tried again."""
        ...

    async def tell(self, job: Job, text: str) -> None:
        """Post a short notice in the job's thread (a job that failed for good: the dead-letter notice), in place
        of the reply its attempts began: ``job.replies[0]`` edited to ``text`` when there is one."""
        ...
