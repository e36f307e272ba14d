"""OpenAI-compatible chat completions over httpx: OpenAI, vLLM, Ollama's /v1,
LM Studio, OpenRouter, Groq and anything else that speaks the same API.

Opening a request is retried with backoff on 429, 5xx and connection errors,
honouring Retry-After. Once the answer has started, nothing is retried: a
failure part-way raises BackendError and the core keeps the thread unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from httpx_sse import EventSource
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.config import BackendConfig
from bot.llm.base import BackendError, ChatRequest, StreamItem, Usage

log = logging.getLogger(__name__)

_CONTEXT_TOO_LONG = re.compile(
    r"context_length_exceeded|maximum context length|context window|context size|context length", re.IGNORECASE
)
_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=8, jitter=0.25)
_OPTIONAL = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


def build_payload(request: ChatRequest) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_tokens": request.max_tokens,
        "stream": request.stream,
    }
    if request.stream:
        payload["stream_options"] = {"include_usage": True}  # a last chunk with the call's token counts
    for name in _OPTIONAL:
        value = getattr(request, name)
        if value is not None:
            payload[name] = value
    if request.stop:
        payload["stop"] = list(request.stop)
    return payload


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode(errors="replace")
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, Mapping):
        return str(error.get("message", error))[:300]
    return str(error or data)[:300]


def status_error(status: int, body: bytes, headers: Mapping[str, str], url: str) -> BackendError:
    detail = f"HTTP {status} from {url}: {_error_message(body)}"
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status in (401, 403):
        return BackendError("auth", detail)
    if status == 429:
        return BackendError("rate_limited", detail, retry_after)
    if status == 408 or status >= 500:
        return BackendError("unavailable", detail, retry_after)
    text = body.decode(errors="replace")
    if status == 400 and _CONTEXT_TOO_LONG.search(text):
        return BackendError("context", detail)
    if status == 404 or "model_not_found" in text:
        return BackendError("unknown_model", detail)
    return BackendError("rejected", detail)


class OpenAIBackend:
    def __init__(self, name: str, config: BackendConfig, api_key: str | None) -> None:
        self.name = name
        self.context_window = config.context_window
        self._config = config
        self._model = config.model
        self._has_key = bool(api_key)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=f"{config.base_url}/",
            headers=headers,
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def default_model(self) -> str:
        if self._model is None:
            self._model = await self._first_listed_model()
        return self._model

    async def list_models(self) -> list[str]:
        self._check_key()
        try:
            response = await self._client.get("models")
        except httpx.HTTPError as error:
            raise BackendError("unavailable", f"listing models at {self._config.base_url}: {error!r}") from None
        if response.status_code != 200:
            raise status_error(response.status_code, response.content, response.headers, str(response.url))
        try:
            return [str(item["id"]) for item in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise BackendError("rejected", f"{response.url} did not answer a model list") from None

    async def _first_listed_model(self) -> str:
        models = await self.list_models()
        if not models:
            raise BackendError(
                "rejected",
                f"backend {self.name!r} names no model and its server lists none: "
                f"set model in [backends.{self.name}] or PARLEY_DEFAULTS__MODEL",
            )
        log.info("backend %s: no model configured, using %s", self.name, models[0])
        return models[0]

    def _check_key(self) -> None:
        if self._config.api_key_env and not self._has_key:
            raise BackendError("auth", f"backend {self.name}: the variable {self._config.api_key_env} is not set")

    async def generate(self, request: ChatRequest) -> AsyncGenerator[StreamItem, None]:
        self._check_key()
        response = await self._open(build_payload(request))
        try:
            if request.stream:
                async for item in self._read_stream(response):
                    yield item
            else:
                for item in await self._read_whole(response):
                    yield item
        finally:
            await response.aclose()

    # -- opening, with retries ------------------------------------------------
    def _should_retry(self, error: BaseException) -> bool:
        if not isinstance(error, BackendError) or not error.retryable:
            return False
        return error.retry_after is None or error.retry_after <= self._config.max_retry_wait

    @staticmethod
    def _wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, BackendError) and error.retry_after is not None:
            return error.retry_after
        return float(_BACKOFF(state))

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("model call failed (%s); retry %d in %.1fs", error, state.attempt_number, wait)

    async def _open(self, payload: dict[str, Any]) -> httpx.Response:
        request = self._client.build_request("POST", "chat/completions", json=payload)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._config.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._open_once(request)
        raise AssertionError("tenacity ends with a result or an exception")

    async def _open_once(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._client.send(request, stream=True)
        except httpx.ConnectTimeout as error:
            raise BackendError("unavailable", f"connecting to {request.url} timed out: {error!r}") from None
        except httpx.TimeoutException as error:
            raise BackendError("timeout", f"{request.url} sent no answer in time: {error!r}") from None
        except httpx.TransportError as error:
            raise BackendError("unavailable", f"cannot reach {request.url}: {error!r}") from None
        if response.status_code == 200:
            return response
        try:
            body = await response.aread()
        except httpx.HTTPError:
            body = b""
        finally:
            await response.aclose()
        raise status_error(response.status_code, body, response.headers, str(request.url))

    # -- reading ----------------------------------------------------------------
    async def _read_stream(self, response: httpx.Response) -> AsyncIterator[StreamItem]:
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            raise BackendError("rejected", f"{response.url} answered {content_type!r}, not an event stream")
        finished = False
        text = TextJoiner()
        try:
            async for event in EventSource(response).aiter_sse():
                if event.data.strip() == "[DONE]":
                    if rest := text.rest():
                        yield rest
                    return
                chunk = _json_chunk(event.data)
                if chunk.get("error"):
                    raise BackendError("interrupted", f"error event mid-stream: {chunk['error']}")
                if usage := _usage(chunk):
                    yield usage
                for choice in chunk.get("choices") or []:
                    delta = text.add(str((choice.get("delta") or {}).get("content") or ""))
                    if delta:
                        yield delta
                    finished = finished or bool(choice.get("finish_reason"))
        except httpx.TimeoutException as error:
            raise BackendError("timeout", f"the stream from {response.url} stalled: {error!r}") from None
        except httpx.TransportError as error:
            raise BackendError("interrupted", f"the stream from {response.url} broke: {error!r}") from None
        if not finished:
            raise BackendError("interrupted", f"the stream from {response.url} ended without [DONE]")
        if rest := text.rest():
            yield rest

    async def _read_whole(self, response: httpx.Response) -> list[StreamItem]:
        try:
            body = await response.aread()
        except httpx.TimeoutException as error:
            raise BackendError("timeout", f"{response.url} stalled: {error!r}") from None
        except httpx.TransportError as error:
            raise BackendError("interrupted", f"the answer from {response.url} broke: {error!r}") from None
        data = _json_chunk(body.decode(errors="replace"))
        try:
            message = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise BackendError("interrupted", f"{response.url} answered without a message: {str(data)[:200]}") from None
        usage = _usage(data)
        return [_valid(str(message.get("content") or "")), *([usage] if usage else [])]


def _usage(chunk: Mapping[str, Any]) -> Usage | None:
    """The token counts a chunk or completion reports (``usage``), if any."""
    usage = chunk.get("usage")
    if not isinstance(usage, Mapping):
        return None
    try:
        return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


class TextJoiner:
    """Joins streamed text whose emoji may arrive as two halves of a surrogate pair in two chunks."""

    def __init__(self) -> None:
        self._held = ""

    def add(self, piece: str) -> str:
        piece = self._held + piece
        self._held = ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            piece, self._held = piece[:-1], piece[-1]
        return _valid(piece)

    def rest(self) -> str:
        held, self._held = self._held, ""
        return _valid(held)


def _valid(text: str) -> str:
    """Pairs surrogates; any lone one becomes U+FFFD, so the text can be printed and stored."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _json_chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise BackendError("interrupted", f"malformed chunk from the backend: {data[:200]!r}") from None
    if not isinstance(chunk, dict):
        raise BackendError("interrupted", f"unexpected chunk from the backend: {data[:200]!r}")
    return chunk
