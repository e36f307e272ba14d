"""OpenAI-compatible chat completions over httpx: OpenAI, vLLM, Ollama's /v1,
LM Studio, OpenRouter, Groq and anything else that speaks the same API.

Starting an answer is retried with backoff on 429, 5xx and connection errors,
honouring Retry-After (``bot.llm.http_backend``, ``bot.llm.retry``). Once the
answer has started, nothing is retried: a failure part-way raises BackendError
and the core keeps the thread unchanged.

A streamed answer asks for the call's usage (``stream_options.include_usage``)
unless the backend sets ``stream_usage = false``. Reasoning that a server sends
apart from the answer (``reasoning_content``, as DeepSeek and vLLM do, or
``reasoning``, as OpenRouter and Ollama do) is yielded as ``Reasoning``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import suppress
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from bot.config import BackendConfig
from bot.llm.base import BackendError, ChatRequest, Reasoning, StreamItem, Usage
from bot.llm.http_backend import HTTPBackend
from bot.llm.text import TextJoiner, valid_text
from bot.llm.transport import http_client, json_object, status_failure
from bot.messages import ChatMessage

log = logging.getLogger(__name__)

_CONTEXT_TOO_LONG = re.compile(
    r"context_length_exceeded|maximum context length|context window|context size|context length", re.IGNORECASE
)
_OPTIONAL = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_COMPLETION_TOKENS_MODELS = re.compile(r"(o\d|gpt-5)(?![\w.])|(o\d|gpt-5)[-.]", re.IGNORECASE)
"""OpenAI's reasoning models (o1, o3-mini, o4-mini, gpt-5, gpt-5.1...): they refuse ``max_tokens``."""
REASONING_FIELDS = ("reasoning_content", "reasoning")
DRAIN_SECONDS = 0.1
"""How long the end of a stream's body is read after ``[DONE]``: a body read to its end keeps its
connection in the pool for the next request (one closed early costs a new connection, TLS included)."""
"""Where OpenAI-compatible servers put a reasoning model's thinking, apart from ``content``."""


def limit_field(model: str) -> str:
    """``max_completion_tokens`` for OpenAI's reasoning models (named without a provider prefix, as
    OpenAI and Azure name them), which answer 400 to ``max_tokens``; ``max_tokens`` for every other
    model, as every OpenAI-compatible server takes it."""
    return "max_completion_tokens" if _COMPLETION_TOKENS_MODELS.match(model.strip()) else "max_tokens"


def content_parts(message: ChatMessage) -> str | list[dict[str, Any]]:
    """A message's content: its text, or with images the parts OpenAI's API takes (text, then data URLs)."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    for image in message.images:
        url = f"data:{image.media_type};base64,{base64.b64encode(image.data).decode()}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def build_payload(request: ChatRequest, *, stream_usage: bool = True) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": content_parts(m)} for m in request.messages],
        limit_field(request.model): request.max_tokens,
        "stream": request.stream,
    }
    if request.stream and stream_usage:
        payload["stream_options"] = {"include_usage": True}  # a last chunk with the call's token counts
    for name in _OPTIONAL:
        value = getattr(request, name)
        if value is not None:
            payload[name] = value
    if request.stop:
        payload["stop"] = list(request.stop)
    return payload


def status_error(status: int, body: bytes, headers: Mapping[str, str], url: str) -> BackendError:
    return status_failure(status, body, headers, url, context_too_long=_CONTEXT_TOO_LONG)


def reasoning_text(fields: Mapping[str, Any]) -> str:
    """The reasoning a delta or message carries, from whichever field the server uses."""
    for name in REASONING_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


class OpenAIBackend(HTTPBackend):
    """The OpenAI chat completions API; ``HTTPBackend`` does the rest (retries, models, the client's life)."""

    # -- what a variant of the API (Azure) changes -------------------------------
    @staticmethod
    def _make_client(config: BackendConfig, api_key: str | None) -> httpx.AsyncClient:
        return http_client(config, {"Authorization": f"Bearer {api_key}"} if api_key else {})

    def _chat_path(self, model: str) -> str:
        return "chat/completions"

    # -- the request, and what its answers mean -----------------------------------
    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        return build_payload(request, stream_usage=self._config.stream_usage)

    def _status_error(self, status: int, body: bytes, headers: Mapping[str, str], url: str) -> BackendError:
        return status_error(status, body, headers, url)

    async def _read_events(self, events: AsyncIterator[ServerSentEvent], url: str) -> AsyncGenerator[StreamItem, None]:
        finish: str | None = None
        text, thinking = TextJoiner(), TextJoiner()
        async for event in events:
            if event.data.strip() == "[DONE]":
                await _drain(events)
                break
            chunk = json_object(event.data)
            if chunk.get("error"):
                raise BackendError("interrupted", f"error event mid-stream: {chunk['error']}")
            if usage := _usage(chunk):
                yield usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if reasoning := thinking.add(reasoning_text(delta)):
                    yield Reasoning(reasoning)
                if piece := text.add(str(delta.get("content") or "")):
                    yield piece
                finish = finish or choice.get("finish_reason")
        else:
            if not finish:
                raise BackendError("interrupted", f"the stream from {url} ended without [DONE]")
        if rest := thinking.rest():
            yield Reasoning(rest)
        if rest := text.rest():
            yield rest
        _note_finish(finish, url)

    def _read_body(self, data: Mapping[str, Any], url: str) -> list[StreamItem]:
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise BackendError("interrupted", f"{url} answered without a message: {str(data)[:200]}") from None
        _note_finish(choice.get("finish_reason"), url)
        items: list[StreamItem] = []
        if reasoning := reasoning_text(message):
            items.append(Reasoning(valid_text(reasoning)))
        items.append(valid_text(str(message.get("content") or "")))
        if usage := _usage(data):
            items.append(usage)
        return items


def _note_finish(finish: object, url: str) -> None:
    """A reply cut at max_tokens is still a complete reply; the log says it was cut."""
    if finish == "length":
        log.info("the answer from %s stopped at max_tokens", url)


def _usage(chunk: Mapping[str, Any]) -> Usage | None:
    """The token counts a chunk or completion reports (``usage``), if any."""
    usage = chunk.get("usage")
    if not isinstance(usage, Mapping):
        return None
    try:
        return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


async def _drain(events: AsyncIterator[ServerSentEvent]) -> None:
    """Read what follows ``[DONE]`` (normally only the body's end) so that the connection can be reused."""
    with suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in events:
                pass
