"""``parley backends check``: one tiny request to every configured backend, and what it tells.

Each backend gets a one-token request for its model (the first its server lists
when the config names none). The answer is a line per backend: OK with the
model and the time it took, or the reason it failed in words an admin can act
on. Reasons are built here from the failure's kind, the model and the URL in
the config, never from the server's text, so no key can be echoed; the
server's detail goes to the log (``-v``), which masks keys.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass

import httpx

from bot.config import BackendConfig, Config, ConfigError
from bot.llm.base import BackendError, ChatRequest
from bot.llm.registry import open_backend
from bot.messages import ChatMessage

log = logging.getLogger(__name__)

PROBE = [ChatMessage("user", "Reply with the word OK.")]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    model: str
    ok: bool
    seconds: float = 0.0
    reason: str = ""

    def line(self, width: int) -> str:
        if self.ok:
            return f"{self.name:<{width}}  OK      {self.model} answered in {self.seconds * 1000:.0f} ms"
        return f"{self.name:<{width}}  FAILED  {self.reason}"


def reason(error: BackendError, model: str, url: str, key_env: str | None) -> str:
    """What went wrong, for an admin: from the kind of failure, never the server's words."""
    status = f" (HTTP {error.status})" if error.status else ""
    if error.kind == "auth":
        if error.status is None:
            return f"no API key: the environment variable {key_env} is not set"
        return f"the backend rejected the API key{status}"
    if error.kind == "unknown_model":
        return f"the backend does not know the model {model!r}{status}"
    if error.kind == "unavailable":
        if error.status is None:
            return f"unreachable: nothing answers at {url}"
        return f"the server at {url} is failing{status}"
    if error.kind == "rate_limited":
        return f"rate limited{status}: the key is accepted, but the backend asks to wait"
    if error.kind == "timeout":
        return f"no answer from {url} in time"
    if error.kind == "rejected" and "stream_options" in error.detail:
        return f"the server refuses stream_options{status}: set stream_usage = false for this backend"
    if error.kind == "rejected" and error.status == 404:
        return f"nothing answers this API at {url} (HTTP 404): check base_url (OpenAI-compatible ones end in /v1)"
    if error.kind in ("rejected", "context"):
        return f"the backend rejected the request{status}; the log (-v) has its answer"
    return f"the answer broke off ({error.kind}); the log (-v) has the detail"


def shown_url(config: BackendConfig) -> str:
    """The backend's URL without any user or password in it."""
    return str(httpx.URL(config.base_url).copy_with(username=None, password=None))


async def check_backend(name: str, config: BackendConfig, api_key: str | None) -> CheckResult:
    # No extended thinking: it would make the one-token probe a request of thinking_budget + 1 tokens.
    backend = open_backend(name, config.model_copy(update={"thinking_budget": None}), api_key)
    model = config.model or "(the first model the server lists)"
    try:
        started = time.monotonic()
        model = await backend.default_model()
        request = ChatRequest(model, PROBE, max_tokens=1, stream=True)
        async with aclosing(backend.generate(request)) as stream:
            async for _ in stream:
                pass
        return CheckResult(name, model, True, seconds=time.monotonic() - started)
    except BackendError as error:
        log.info("backend %s: %s", name, error)
        return CheckResult(name, model, False, reason=reason(error, model, shown_url(config), config.api_key_env))
    finally:
        await backend.aclose()


async def check_backends(config: Config, environ: Mapping[str, str]) -> list[CheckResult]:
    """Every configured backend, checked side by side; results in config order."""
    if not config.backends:
        raise ConfigError("no backend is configured: there is nothing to check")
    checks = [check_backend(name, backend, backend.api_key(environ)) for name, backend in config.backends.items()]
    return list(await asyncio.gather(*checks))
