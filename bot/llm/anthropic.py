"""Anthropic's Messages API, natively: ``POST {base_url}/messages`` over httpx.

The key goes in ``x-api-key`` and the API version in ``anthropic-version``. The
system prompt is the top-level ``system`` field, ``max_tokens`` is always sent,
and consecutive turns of one role are merged into one (``merge_turns``), as
the API requires turns to alternate. Anthropic takes a temperature from 0 to 1:
a channel's higher temperature is sent as 1, and a channel that sets both
temperature and top_p sends only the temperature (Claude Sonnet 4.5 and later
answer 400 to both). It has no presence or frequency penalty: those settings
are not sent. With ``thinking_budget`` in the config,
extended thinking is asked for (``thinking.budget_tokens``); ``max_tokens``
then grows by the budget and temperature and top_p are not sent, as the API
requires.

A streamed answer is the event sequence message_start, content_block_start,
ping, content_block_delta, content_block_stop, message_delta, message_stop; an
``error`` event may arrive at any point. Text deltas are the answer, thinking
deltas are yielded as ``Reasoning``, and the usage that message_start
(input tokens) and message_delta (output tokens) report is yielded once, at
the end. Any stop reason is a complete answer; ``max_tokens`` is one that was
cut at the limit, as OpenAI's ``length`` (the log says so).

Starting an answer is retried like the OpenAI backend's (``bot.llm.http_backend``,
under the one policy of ``bot.llm.retry``), on 429, 529 (overloaded) and other
5xx, honouring Retry-After. The API can also answer 200 and then send an
``error`` event (typically overloaded_error): if that comes before any text or
thinking, it is a retryable failure of the same start, so the request is sent
again, with backoff, within the same ``max_retries``.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from bot.config import BackendConfig
from bot.llm.base import BackendError, ChatRequest, FailureKind, Reasoning, StreamItem, Usage
from bot.llm.http_backend import HTTPBackend
from bot.llm.text import TextJoiner, valid_text
from bot.llm.transport import http_client, json_object, status_failure
from bot.messages import ChatMessage, Image

log = logging.getLogger(__name__)

MAX_TEMPERATURE = 1.0
_BEFORE_TEXT: dict[str, FailureKind] = {
    "overloaded_error": "unavailable",
    "api_error": "unavailable",
    "rate_limit_error": "rate_limited",
    "authentication_error": "auth",
    "permission_error": "auth",
    "not_found_error": "unknown_model",
}
"""The failure an ``error`` event means when no answer text came before it (after some, it is an interruption)."""
_CONTEXT_TOO_LONG = re.compile(r"prompt is too long|exceed context limit", re.IGNORECASE)
"""The API's two 400s for a prompt over the window: the prompt alone, or the prompt plus ``max_tokens``."""


def merge_turns(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """The system text, and the turns as the API takes them: alternating, starting with the user.

    System messages, wherever they are, join the top-level system text. Turns of
    one role in a row are joined into one, a blank line apart. Empty turns are
    dropped (the API refuses empty text), and so are assistant turns before
    the first user turn. A turn with images is a list of content blocks: the
    images (base64), then its text.
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    images: dict[int, list[Image]] = {}
    for message in messages:
        content = message.content.strip()
        if not content and not message.images:
            continue
        if message.role == "system":
            system.append(content)
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] = "\n\n".join(part for part in (turns[-1]["content"], content) if part)
        elif turns or message.role == "user":
            turns.append({"role": message.role, "content": content})
        else:
            continue
        images.setdefault(len(turns) - 1, []).extend(message.images)
    for index, seen in images.items():
        if seen:
            text = turns[index]["content"]
            blocks: list[dict[str, Any]] = [_image_block(image) for image in seen]
            turns[index]["content"] = blocks + ([{"type": "text", "text": text}] if text else [])
    return "\n\n".join(system), turns


def _image_block(image: Image) -> dict[str, Any]:
    data = base64.b64encode(image.data).decode()
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": data}}


def build_payload(request: ChatRequest, *, thinking_budget: int | None = None) -> dict[str, Any]:
    """The request body. With a thinking budget, ``max_tokens`` grows by it (the API counts the
    thinking in ``max_tokens``) and temperature and top_p are left out (the API refuses them then)."""
    system, turns = merge_turns(request.messages)
    payload: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens + (thinking_budget or 0),
        "messages": turns,
        "stream": request.stream,
    }
    if system:
        payload["system"] = system
    if thinking_budget:
        payload["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget}
    elif request.temperature is not None:  # current models refuse temperature and top_p together
        payload["temperature"] = min(request.temperature, MAX_TEMPERATURE)
    elif request.top_p is not None:
        payload["top_p"] = request.top_p
    if request.stop:
        payload["stop_sequences"] = list(request.stop)
    return payload


def _error_type(body: bytes | Mapping[str, Any]) -> str:
    data = _json_or_empty(body) if isinstance(body, bytes) else body
    error = data.get("error")
    return str(error.get("type", "")) if isinstance(error, Mapping) else ""


def _json_or_empty(body: bytes) -> Mapping[str, Any]:
    try:
        return json_object(body.decode(errors="replace"))
    except BackendError:
        return {}


def status_error(status: int, body: bytes, headers: Mapping[str, str], url: str) -> BackendError:
    return status_failure(status, body, headers, url, context_too_long=_CONTEXT_TOO_LONG)


def event_error(data: Mapping[str, Any], answered: bool, url: str) -> BackendError:
    """An ``error`` event: what it means depends on whether answer text came before it."""
    error = data.get("error")
    message = error.get("message", error) if isinstance(error, Mapping) else error
    detail = f"error event from {url}: {_error_type(data) or 'error'}: {str(message)[:300]}"
    kind = "interrupted" if answered else _BEFORE_TEXT.get(_error_type(data), "interrupted")
    return BackendError(kind, detail)


@dataclass
class _Reading:
    """What a stream has told so far."""

    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    stopped: bool = False
    answered: bool = False
    text: TextJoiner = field(default_factory=TextJoiner)
    thinking: TextJoiner = field(default_factory=TextJoiner)

    def piece(self, kind: object, value: object) -> StreamItem | None:
        """The answer or reasoning text in a content block or delta, if any."""
        if kind in ("text", "text_delta") and isinstance(value, str):
            piece = self.text.add(value)
            self.answered = self.answered or bool(piece)
            return piece or None
        if kind in ("thinking", "thinking_delta") and isinstance(value, str):
            return Reasoning(thought) if (thought := self.thinking.add(value)) else None
        return None

    def count(self, usage: object, *, start: bool) -> None:
        if not isinstance(usage, Mapping):
            return
        prompt = sum(_int(usage.get(key)) for key in _INPUT_KEYS)
        if start or prompt:
            self.input_tokens = prompt
        self.output_tokens = _int(usage.get("output_tokens")) or self.output_tokens


_INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _int(value: object) -> int:
    try:
        return int(value) if isinstance(value, int | float | str) else 0
    except ValueError:
        return 0


class AnthropicBackend(HTTPBackend):
    """The Messages API; ``HTTPBackend`` does the rest (retries, models, the client's life)."""

    KEY_ALWAYS_NEEDED = True

    @staticmethod
    def _make_client(config: BackendConfig, api_key: str | None) -> httpx.AsyncClient:
        headers = {"anthropic-version": config.api_version or ""}
        if api_key:
            headers["x-api-key"] = api_key
        return http_client(config, headers)

    def _chat_path(self, model: str) -> str:
        return "messages"

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        return build_payload(request, thinking_budget=self._config.thinking_budget)

    def _status_error(self, status: int, body: bytes, headers: Mapping[str, str], url: str) -> BackendError:
        return status_error(status, body, headers, url)

    async def _read_events(self, events: AsyncIterator[ServerSentEvent], url: str) -> AsyncGenerator[StreamItem, None]:
        """The answer's items. An ``error`` event before any of them is a retryable failure when it says so
        (overloaded_error, api_error, rate_limit_error): ``HTTPBackend`` then sends the request again."""
        state = _Reading()
        async for event in events:
            if event.event == "ping":
                continue
            data = json_object(event.data)
            kind = data.get("type", event.event)
            if kind == "error":
                raise event_error(data, state.answered, url)
            if kind == "message_start":
                message = data.get("message")
                state.count(message.get("usage") if isinstance(message, Mapping) else None, start=True)
            elif kind == "content_block_start":
                block = data.get("content_block") or {}
                if item := state.piece(block.get("type"), block.get("text", block.get("thinking"))):
                    yield item
            elif kind == "content_block_delta":
                delta = data.get("delta") or {}
                if item := state.piece(delta.get("type"), delta.get("text", delta.get("thinking"))):
                    yield item
            elif kind == "message_delta":
                state.stop_reason = (data.get("delta") or {}).get("stop_reason") or state.stop_reason
                state.count(data.get("usage"), start=False)
            elif kind == "message_stop":
                state.stopped = True
                break
        if not state.stopped:
            raise BackendError("interrupted", f"the stream from {url} ended without message_stop")
        if rest := state.thinking.rest():
            yield Reasoning(rest)
        if rest := state.text.rest():
            yield rest
        _note_stop(state.stop_reason, url)
        yield Usage(state.input_tokens, state.output_tokens)

    def _read_body(self, data: Mapping[str, Any], url: str) -> list[StreamItem]:
        if data.get("type") == "error":
            raise event_error(data, False, url)
        content = data.get("content")
        if not isinstance(content, list):
            raise BackendError("interrupted", f"{url} answered without content: {str(data)[:200]}")
        blocks = [block for block in content if isinstance(block, Mapping)]
        thinking = "".join(str(b.get("thinking") or "") for b in blocks if b.get("type") == "thinking")
        text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
        _note_stop(data.get("stop_reason"), url)
        usage = _Reading()
        usage.count(data.get("usage"), start=True)
        items: list[StreamItem] = [Reasoning(valid_text(thinking))] if thinking else []
        return [*items, valid_text(text), Usage(usage.input_tokens, usage.output_tokens)]


def _note_stop(reason: object, url: str) -> None:
    if reason == "max_tokens":
        log.info("the answer from %s stopped at max_tokens", url)
