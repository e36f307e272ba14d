"""Prometheus metrics of one process (``/metrics``): what the core, the backends and the adapters count.

One ``Metrics`` per process, made by ``open_conversation`` and reachable as ``Conversation.metrics``;
its registry is its own (not prometheus_client's global one), with the process collector's defaults.
Counters and histograms move as things happen; the queue's gauges are read from Redis when
``/metrics`` is scraped (``refresh``), so every process reports the same queue.

Labels are bounded: a platform's name, a backend's name from the config, a failure kind, an API
method as a route template (never an id), an HTTP status. Never a user, a channel or a text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)

Outcome = Literal["answered", "failed", "ignored", "deduplicated", "rate_limited", "budget"]
"""How one message ended: answered (a command's answer too), failed (a notice instead of an answer: the
backends failed, too long, busy, something broke, given up), ignored (not for parley), deduplicated
(a redelivery), rate_limited (a user's or a channel's limit), budget (the channel's daily token budget)."""


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """How one message's turn ended, for ``Metrics.ended``: its outcome and, for an answer, its times."""

    outcome: Outcome
    backend: str | None = None
    """The backend that answered (a fallback's name when a fallback did); None when no model answered."""
    seconds: float | None = None
    """From the start of the turn to the complete answer."""
    first_text_seconds: float | None = None
    """From the start of the turn to the first text of the answer in the thread (None: none was measured)."""


CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Content-Type of ``render``'s text."""

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 60.0, 120.0, 300.0)
"""Seconds: a reply takes from a fraction of a second (a command) to minutes (a long answer)."""


REFRESH_SECONDS = 2.0
"""How long a scrape waits for the queue's gauges: a Redis that is gone must not hold ``/metrics``."""


class QueueGauges(Protocol):
    """What ``refresh`` reads: the queue's depth and age by platform, and its dead letters."""

    async def gauges(self) -> tuple[dict[str, tuple[int, float]], int]:
        """``({platform: (depth, oldest age in seconds)}, dead letters)``."""
        ...


class DeadLetters:
    """``parley_queue_dead_letters``, a collector rather than a ``Gauge``: a gauge without labels always has a
    sample, and a stale one would hide dead letters from an alert. Its sample is what the last refresh read, and
    there is none before the first refresh or after one that could not read Redis."""

    NAME = "parley_queue_dead_letters"
    HELP = "Messages given up after the last attempt (parley queue dead)."

    def __init__(self) -> None:
        self.value: float | None = None

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self.NAME, self.HELP)]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.NAME, self.HELP)
        if self.value is not None:
            family.add_metric([], self.value)
        return [family]


class Metrics:
    """The process's counters, histograms and gauges, on a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        self.messages = Counter(
            "parley_messages", "Messages parley accepted, by how they ended.", ["platform", "outcome"], registry=r
        )
        self.reply_seconds = Histogram(
            "parley_reply_seconds",
            "Seconds from the start of a turn to its complete answer.",
            ["platform", "backend"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token_seconds = Histogram(
            "parley_first_token_seconds",
            "Seconds from the start of a turn to the first text of its answer in the thread.",
            ["platform", "backend"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("parley_tokens", "Tokens the backends counted.", ["backend", "kind"], registry=r)
        self.backend_errors = Counter(
            "parley_backend_errors", "Failed calls to a backend, by kind of failure.", ["backend", "kind"], registry=r
        )
        self.fallbacks = Counter(
            "parley_fallbacks",
            "Replies a fallback answered after the backends before it failed; backend: the fallback that answered.",
            ["backend"],
            registry=r,
        )
        self.platform_calls = Counter(
            "parley_platform_calls",
            "Calls to a chat platform's API, by method and HTTP status (429: rate limited).",
            ["platform", "method", "status"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "parley_queue_depth", "Queued messages not yet answered (waiting or in hand).", ["platform"], registry=r
        )
        self.queue_oldest_seconds = Gauge(
            "parley_queue_oldest_seconds", "Age of the oldest queued message not yet answered.", ["platform"],
            registry=r,
        )  # fmt: skip
        self.queue_dead_letters = DeadLetters()
        r.register(self.queue_dead_letters)
        self.redis_errors = Counter(
            "parley_redis_errors", "Redis commands that failed (each failed try of a retried one).", registry=r
        )
        self.desk_questions = Counter(
            "parley_desk_questions",
            "Questions asked in helpdesk channels (answered, not known, handed off).",
            registry=r,
        )
        self.desk_handoffs = Counter("parley_desk_handoffs", "Helpdesk threads handed to a person.", registry=r)
        self.desk_votes = Counter("parley_desk_votes", "Votes on helpdesk answers (up, down).", ["vote"], registry=r)

    # -- what happens ---------------------------------------------------------------------------
    def message(self, platform: str, outcome: Outcome) -> None:
        self.messages.labels(platform, outcome).inc()

    def ended(self, platform: str, end: TurnEnd) -> None:
        """One message's turn ended: its outcome, and an answer's times by the backend that answered."""
        self.message(platform, end.outcome)
        if end.backend is not None and end.seconds is not None:
            self.reply(platform, end.backend, end.seconds, end.first_text_seconds)

    def reply(self, platform: str, backend: str, seconds: float, first_text_seconds: float | None) -> None:
        """One complete answer: its time, and the time to its first text (None: none was measured)."""
        self.reply_seconds.labels(platform, backend).observe(seconds)
        if first_text_seconds is not None:
            self.first_token_seconds.labels(platform, backend).observe(first_text_seconds)

    def used(self, backend: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.tokens.labels(backend, "prompt").inc(prompt_tokens)
        self.tokens.labels(backend, "completion").inc(completion_tokens)

    def backend_error(self, backend: str, kind: str) -> None:
        self.backend_errors.labels(backend, kind).inc()

    def fallback(self, backend: str) -> None:
        self.fallbacks.labels(backend).inc()

    def platform_call(self, platform: str, method: str, status: int) -> None:
        """One API call: ``method`` a bounded name (an API method's name, or a route template with no ids)."""
        self.platform_calls.labels(platform, method, str(status)).inc()

    def redis_error(self) -> None:
        self.redis_errors.inc()

    def desk_question(self) -> None:
        self.desk_questions.inc()

    def desk_handoff(self) -> None:
        self.desk_handoffs.inc()

    def desk_vote(self, vote: Literal["up", "down"]) -> None:
        self.desk_votes.labels(vote).inc()

    # -- scraping -------------------------------------------------------------------------------
    async def refresh(self, queue: QueueGauges) -> None:
        """Read the queue's gauges from Redis. When they cannot be read (Redis gone, or slower than
        ``REFRESH_SECONDS``) the gauges have no samples until a refresh reads them again: absent, not stale,
        so that an alert on them does not go on seeing the last values."""
        try:
            by_platform, dead = await asyncio.wait_for(queue.gauges(), REFRESH_SECONDS)
        except Exception as error:
            self.queue_depth.clear()
            self.queue_oldest_seconds.clear()
            self.queue_dead_letters.value = None
            detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            log.warning("metrics: the queue's gauges could not be read (%s); left out of this scrape", detail)
            return
        for platform, (depth, age) in by_platform.items():
            self.queue_depth.labels(platform).set(depth)
            self.queue_oldest_seconds.labels(platform).set(age)
        self.queue_dead_letters.value = dead

    def render(self) -> bytes:
        """The registry in Prometheus's text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)
