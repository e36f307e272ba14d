"""What every HTTP backend shares on the wire: its client, and naming what went wrong.

``status_failure`` turns a non-200 answer into a BackendError (with its
Retry-After, which the retry policy in ``bot.llm.retry`` honours); ``reading``
turns a stall or a broken connection while an answer is read into one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.config import BackendConfig
from bot.llm.base import BackendError

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


def http_client(
    config: BackendConfig, headers: Mapping[str, str], *, path: str = "", params: Mapping[str, str] | None = None
) -> httpx.AsyncClient:
    """The backend's HTTP client: its base URL (plus ``path``), headers, timeouts and connection pool.

    The pool holds ``max_connections`` (all kept alive); a call that finds it full waits for a
    connection (no pool timeout: the first-token timeout bounds the wait) rather than failing.
    """
    return httpx.AsyncClient(
        base_url=f"{config.base_url}/{path}",
        headers=dict(headers),
        params=dict(params or {}),
        timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout, pool=None),
        limits=httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections),
    )
