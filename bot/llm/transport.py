"""What every HTTP backend shares: opening a request with retries, and naming transport failures.

Opening a request is retried with backoff on retryable failures (429, 5xx,
connection errors), honouring Retry-After up to ``max_retry_wait``. Once the
answer has started nothing is retried: ``reading`` turns a stall or a broken
connection into a BackendError.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.config import BackendConfig
from bot.llm.base import BackendError, Unreachable

log = logging.getLogger(__name__)

_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=8, jitter=0.25)

StatusClassifier = Callable[[int, bytes, Mapping[str, str], str], BackendError]
"""(status, body, headers, url) of a non-200 answer -> the failure it means."""


_MODEL_MISSING = re.compile(
    r"model_not_found|DeploymentNotFound|not a valid model|\bmodel\b.{0,80}\b(not found|does not exist)",
    re.IGNORECASE | re.DOTALL,
)
"""How servers say they lack the model: OpenAI, Groq, vLLM (``The model `x` does not exist``), Ollama
(``model "x" not found``), OpenRouter (``x is not a valid model ID``), Azure (``DeploymentNotFound``)."""


def status_failure(
    status: int, body: bytes, headers: Mapping[str, str], url: str, *, context_too_long: re.Pattern[str]
) -> BackendError:
    """The failure a non-200 answer means, the same for every HTTP backend.

    A 404 whose body names no model or deployment is a wrong address (``base_url``), not an
    unknown model: the admin must be sent to the right setting.
    """
    detail = f"HTTP {status} from {url}: {error_message(body)}"
    retry_after = parse_retry_after(headers.get("retry-after"))
    text = body.decode(errors="replace")
    if status in (401, 403):
        return BackendError("auth", f"the backend rejected the API key: {detail}", status=status)
    if status == 429:
        return BackendError("rate_limited", detail, retry_after, status=status)
    if status == 408 or status >= 500:  # Anthropic's 529 (overloaded) too
        return BackendError("unavailable", detail, retry_after, status=status)
    if status == 413 or (status == 400 and context_too_long.search(text)):
        return BackendError("context", detail, status=status)
    if _MODEL_MISSING.search(text) or (status == 404 and re.search(r"model|deployment", error_message(body), re.I)):
        return BackendError("unknown_model", detail, status=status)
    if status == 404:
        return BackendError("rejected", f"no such API at this address (check base_url): {detail}", status=status)
    return BackendError("rejected", detail, status=status)


async def list_model_ids(client: httpx.AsyncClient, base_url: str, classify: StatusClassifier) -> list[str]:
    """``GET models`` (relative to the client's base URL): the ids of the models the server lists."""
    try:
        response = await client.get("models")
    except httpx.ConnectError as error:
        raise Unreachable(f"listing models at {base_url}: {error!r}") from None
    except httpx.HTTPError as error:
        raise BackendError("unavailable", f"listing models at {base_url}: {error!r}") from None
    url = redacted_url(response.url)
    if response.status_code != 200:
        raise classify(response.status_code, response.content, response.headers, url)
    try:
        return [str(item["id"]) for item in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise BackendError("rejected", f"{url} did not answer a model list") from None


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


def error_message(body: bytes) -> str:
    """The message of an error answer (``{"error": {"message": ...}}``, as OpenAI and Anthropic send)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode(errors="replace")
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, Mapping):
        return str(error.get("message", error))[:300]
    return str(error or data)[:300]


def json_object(data: str) -> dict[str, Any]:
    """One chunk or answer body as a JSON object; anything else means the answer broke."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise BackendError("interrupted", f"malformed chunk from the backend: {data[:200]!r}") from None
    if not isinstance(chunk, dict):
        raise BackendError("interrupted", f"unexpected chunk from the backend: {data[:200]!r}")
    return chunk


class Opener:
    """Sends a request and returns the streaming response once it answered 200, retrying as configured."""

    def __init__(
        self, client: httpx.AsyncClient, *, max_retries: int, max_retry_wait: float, classify: StatusClassifier
    ) -> None:
        self._client = client
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._classify = classify

    async def open(self, request: httpx.Request) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=_wait,
            retry=retry_if_exception(self._should_retry),
            before_sleep=_log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._open_once(request)
        raise AssertionError("tenacity ends with a result or an exception")

    def _should_retry(self, error: BaseException) -> bool:
        if not isinstance(error, BackendError) or not error.retryable:
            return False
        return error.retry_after is None or error.retry_after <= self._max_retry_wait

    async def _open_once(self, request: httpx.Request) -> httpx.Response:
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
        raise self._classify(response.status_code, body, response.headers, url)


def redacted_url(url: httpx.URL) -> str:
    """A request's URL for a log line or a message: no query string (where some servers take keys)."""
    return str(url.copy_with(query=None))


@contextmanager
def reading(url: str) -> Iterator[None]:
    """While an answer is read: a stall is a timeout, a broken connection an interruption."""
    try:
        yield
    except httpx.TimeoutException as error:
        raise BackendError("timeout", f"the answer from {url} stalled: {error!r}") from None
    except httpx.TransportError as error:
        raise BackendError("interrupted", f"the answer from {url} broke: {error!r}") from None


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, BackendError) and error.retry_after is not None:
        return error.retry_after
    return float(_BACKOFF(state))


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("model call failed (%s); retry %d in %.1fs", error, state.attempt_number, wait)


def http_client(
    config: BackendConfig, headers: Mapping[str, str], *, path: str = "", params: Mapping[str, str] | None = None
) -> httpx.AsyncClient:
    """The backend's HTTP client: its base URL (plus ``path``), headers and the configured timeouts."""
    return httpx.AsyncClient(
        base_url=f"{config.base_url}/{path}",
        headers=dict(headers),
        params=dict(params or {}),
        timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
    )


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
