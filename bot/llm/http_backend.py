"""What every HTTP backend (OpenAI-compatible, Azure, Anthropic) does the same way, once.

``HTTPBackend`` owns the httpx client, the default-model lookup, listing models,
and starting an answer under the one retry policy (``bot.llm.retry``). A backend
supplies only what differs: its client (address and headers), the chat request's
path and body, how it reads its SSE events and a whole answer, and what its
error answers mean.

Starting an answer means sending the request and reading it up to its first
item. A retryable failure until then sends the request again: a 429, a 5xx
(Anthropic's 529 too), a connection error, or an error event that arrives before
anything else (Anthropic's ``overloaded_error``). Once the first item is out,
nothing is retried: a failure part-way raises BackendError and the core keeps
the thread unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing, suppress
from typing import Any, ClassVar

import httpx
from httpx_sse import EventSource, ServerSentEvent

from bot.config import BackendConfig
from bot.llm.base import BackendError, ChatRequest, StreamItem, Unreachable, Usage
from bot.llm.retry import retrying
from bot.llm.transport import json_object, reading, redacted_url

log = logging.getLogger(__name__)


class HTTPBackend(ABC):
    """A backend over HTTP: the ``Backend`` protocol, built on what each API says differently."""

    KEY_ALWAYS_NEEDED: ClassVar[bool] = False
    """True: no key means no call. False: only when ``api_key_env`` names a variable (local servers take none)."""

    def __init__(self, name: str, config: BackendConfig, api_key: str | None) -> None:
        self.name = name
        self.context_window = config.context_window
        self._config = config
        self._has_key = bool(api_key)
        self._client = self._make_client(config, api_key)
        self._default_model = DefaultModel(name, config.model, self.list_models)

    # -- what each API says differently ----------------------------------------------
    @staticmethod
    @abstractmethod
    def _make_client(config: BackendConfig, api_key: str | None) -> httpx.AsyncClient:
        """The client: base URL, the key's header and any fixed headers or query parameters."""

    @abstractmethod
    def _chat_path(self, model: str) -> str:
        """Where a chat request goes, relative to the client's base URL."""

    @abstractmethod
    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        """The chat request's JSON body."""

    @abstractmethod
    def _read_events(self, events: AsyncIterator[ServerSentEvent], url: str) -> AsyncGenerator[StreamItem, None]:
        """A streamed answer's items, from its SSE events; BackendError unless it ended as complete."""

    @abstractmethod
    def _read_body(self, data: Mapping[str, Any], url: str) -> list[StreamItem]:
        """A whole (not streamed) answer's items, from its JSON body."""

    @abstractmethod
    def _status_error(self, status: int, body: bytes, headers: Mapping[str, str], url: str) -> BackendError:
        """The failure a non-200 answer means."""

    # -- the Backend protocol -------------------------------------------------------------
    async def aclose(self) -> None:
        await self._client.aclose()

    async def default_model(self) -> str:
        return await self._default_model.get()

    async def list_models(self) -> list[str]:
        """``GET models`` (relative to the client's base URL): the ids of the models the server lists."""
        self._check_key()
        try:
            response = await self._client.get("models")
        except httpx.ConnectError as error:
            raise Unreachable(f"listing models at {self._config.base_url}: {error!r}") from None
        except httpx.HTTPError as error:
            raise BackendError("unavailable", f"listing models at {self._config.base_url}: {error!r}") from None
        url = redacted_url(response.url)
        if response.status_code != 200:
            raise self._status_error(response.status_code, response.content, response.headers, url)
        try:
            return [str(item["id"]) for item in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise BackendError("rejected", f"{url} did not answer a model list") from None

    async def generate(self, request: ChatRequest) -> AsyncGenerator[StreamItem, None]:
        started, outcome, usage = time.monotonic(), "stopped", None  # stopped: its reader went on without the rest
        try:
            self._check_key()
            sent = self._client.build_request("POST", self._chat_path(request.model), json=self._payload(request))
            answer = await self._start(sent, stream=request.stream)
            try:
                for item in answer.first:
                    usage = item if isinstance(item, Usage) else usage
                    yield item
                async for item in answer.rest:
                    usage = item if isinstance(item, Usage) else usage
                    yield item
            finally:
                await answer.aclose()
            outcome = "answered"
        except BackendError as error:
            outcome = f"failed ({error.kind})"
            raise
        finally:
            log.info("backend %s model %s: %s in %.1fs, %s", self.name, request.model, outcome,
                     time.monotonic() - started, _tokens(usage))  # fmt: skip

    def _check_key(self) -> None:
        if (self.KEY_ALWAYS_NEEDED or self._config.api_key_env) and not self._has_key:
            raise BackendError("auth", f"backend {self.name}: the variable {self._config.api_key_env} is not set")

    # -- starting an answer, under the retry policy --------------------------------------
    async def _start(self, request: httpx.Request, *, stream: bool) -> _Answer:
        attempts = retrying(max_retries=self._config.max_retries, max_retry_wait=self._config.max_retry_wait)
        async for attempt in attempts:
            with attempt:
                return await self._start_once(request, stream=stream)
        raise AssertionError("tenacity ends with a result or an exception")

    async def _start_once(self, request: httpx.Request, *, stream: bool) -> _Answer:
        response = await self._send(request)
        answer = _Answer(response, self._items(response, stream=stream))
        try:
            await answer.begin()
        except BaseException:
            await answer.aclose()
            raise
        return answer

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """The streaming response once the server answered 200; a BackendError for anything else."""
        url = redacted_url(request.url)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.ConnectTimeout as error:
            raise BackendError("unavailable", f"connecting to {url} timed out: {error!r}") from None
        except httpx.ConnectError as error:
            raise Unreachable(f"cannot reach {url}: {error!r}") from None
        except httpx.TimeoutException as error:
            raise BackendError("timeout", f"{url} sent no answer in time: {error!r}") from None
        except httpx.TransportError as error:
            raise BackendError("unavailable", f"cannot reach {url}: {error!r}") from None
        if response.status_code == 200:
            return response
        try:
            body = await response.aread()
        except httpx.HTTPError:
            body = b""
        finally:
            await response.aclose()
        raise self._status_error(response.status_code, body, response.headers, url)

    async def _items(self, response: httpx.Response, *, stream: bool) -> AsyncGenerator[StreamItem, None]:
        url = redacted_url(response.url)
        if not stream:
            with reading(url):
                body = await response.aread()
            for item in self._read_body(json_object(body.decode(errors="replace")), url):
                yield item
            return
        content_type = response.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            raise BackendError("rejected", f"{url} answered {content_type!r}, not an event stream")
        with reading(url):
            async with aclosing(self._read_events(EventSource(response).aiter_sse(), url)) as items:
                async for item in items:
                    yield item


def _tokens(usage: Usage | None) -> str:
    if usage is None:
        return "tokens not reported"
    total = usage.prompt_tokens + usage.completion_tokens
    return f"{total} tokens ({usage.prompt_tokens} prompt, {usage.completion_tokens} completion)"


class _Answer:
    """A started answer: its response, its first item (if it has any) and the items still to read."""

    def __init__(self, response: httpx.Response, items: AsyncGenerator[StreamItem, None]) -> None:
        self._response = response
        self.rest = items
        self.first: list[StreamItem] = []

    async def begin(self) -> None:
        """Read the first item: a failure until it is read may still be retried."""
        with suppress(StopAsyncIteration):
            self.first.append(await anext(self.rest))

    async def aclose(self) -> None:
        try:
            await self.rest.aclose()
        finally:
            await self._response.aclose()


class DefaultModel:
    """A backend's model when a channel names none: the configured one, else the first its server lists.

    The server is asked once per process, however many messages arrive together.
    """

    def __init__(self, backend: str, configured: str | None, list_models: Callable[[], Awaitable[list[str]]]) -> None:
        self._backend = backend
        self._model = configured
        self._list_models = list_models
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        if self._model is not None:
            return self._model
        async with self._lock:
            if self._model is None:
                models = await self._list_models()
                if not models:
                    raise BackendError(
                        "rejected",
                        f"backend {self._backend!r} names no model and its server lists none: "
                        f"set model in [backends.{self._backend}] or PARLEY_DEFAULTS__MODEL",
                    )
                log.info("backend %s: no model configured, using %s", self._backend, models[0])
                self._model = models[0]
            return self._model
