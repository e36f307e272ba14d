"""What the core asks of a model backend, and how a backend says it failed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.messages import ChatMessage

FailureKind = Literal[
    "unavailable",  # connection refused, 5xx after retries
    "rate_limited",  # 429 after retries, or a Retry-After longer than we wait
    "auth",  # 401/403: the key is wrong or lacks access
    "unknown_model",  # the backend does not know the requested model
    "rejected",  # another 4xx: a bad parameter
    "context",  # the prompt is longer than the model's context window
    "timeout",  # no data within the read timeout (a stalled stream)
    "interrupted",  # the answer stopped part-way: dropped connection, bad chunk, no end marker
    "empty",  # the model answered nothing
]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: Sequence[ChatMessage]
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: Sequence[str] = field(default_factory=tuple)
    stream: bool = True


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Text a reasoning model produced before its answer (``reasoning_content``): never posted as the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one call used, as the backend reported them (``estimated`` when it reported none)."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False


StreamItem = str | Reasoning | Usage
"""What ``Backend.generate`` yields: answer text, reasoning text, or (once, at the end) usage."""


class BackendError(Exception):
    """A failed model call. ``detail`` is for the log, never for the chat."""

    def __init__(
        self, kind: FailureKind, detail: str, retry_after: float | None = None, *, status: int | None = None
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: FailureKind = kind
        self.detail = detail
        self.retry_after = retry_after
        self.status = status
        """The HTTP status the backend answered, if it answered at all (None: unreachable, or mid-stream)."""

    @property
    def retryable(self) -> bool:
        return self.kind in ("unavailable", "rate_limited")


class Unreachable(BackendError):
    """Nothing answers at the backend's address: a refused connection, a host name that does not resolve.

    ``unavailable`` for retries and fallbacks; but the user is told to have the
    configuration checked (``base_url``, the server running), since waiting will not help.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("unavailable", detail)


class Backend(Protocol):
    name: str
    context_window: int

    async def default_model(self) -> str:
        """The model to use when a channel names none."""
        ...

    def generate(self, request: ChatRequest) -> AsyncGenerator[StreamItem, None]:
        """Yield the reply's text as it arrives (all at once when not streaming).

        Plain ``str`` items are the answer. A backend may also yield ``Reasoning``
        (kept out of the answer) and, once at the end, ``Usage``.

        Ends normally only when the backend said the answer is complete;
        otherwise raises BackendError.
        """
        ...

    async def aclose(self) -> None: ...
