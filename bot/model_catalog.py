"""The models the backends offer: checking a model typed in chat, naming the model a backend uses.

A model set with ``/set model NAME`` (or ``parley channel set``) is checked
against the list its backend serves (``GET {base_url}/models``). It cannot be
checked when the backend is Azure OpenAI (its list holds base models, not the
deployments a channel names) or when the list cannot be read now (nothing
answers, a refused key, no such API): the value is then stored, and the
answer says it was not checked and why. Reasons are built from the failure's
kind, never from the server's text.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.config import Config
from bot.llm.base import Backend, BackendError, Unreachable

log = logging.getLogger(__name__)

LIST_SECONDS = 5.0
"""How long a command waits for a backend's model list."""
SHOWN = 8
"""How many listed models a refusal names."""


@runtime_checkable
class ModelLister(Protocol):
    async def list_models(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class ModelCheck:
    listed: bool | None
    """True: the backend lists the model; False: it does not; None: it could not be checked."""
    detail: str = ""
    """Not listed: the models that are. Not checked: why not."""


def is_listed(model: str, listed: list[str]) -> bool:
    """The model, or what the server serves under that name: Ollama's ``:latest``, Anthropic's dated snapshots."""
    if model in listed or f"{model}:latest" in listed:
        return True
    snapshot = re.compile(rf"{re.escape(model)}-\d{{8}}")
    return any(snapshot.fullmatch(name) for name in listed)


def unreadable(error: BackendError) -> str:
    """Why a backend's list could not be read, in an admin's words."""
    if error.kind == "auth":
        return "the backend refused the API key, or its variable is not set"
    if isinstance(error, Unreachable):
        return "nothing answers at the backend's base_url"
    if error.kind == "rejected" and error.status == 404:
        return "the backend serves no model list"
    if error.kind == "timeout":
        return "the backend did not answer in time"
    return f"the backend's model list could not be read ({error.kind})"


class ModelCatalog:
    """The models of the configured backends, asked of their servers when a command needs them."""

    def __init__(self, config: Config, backends: Mapping[str, Backend]) -> None:
        self._config = config
        self._backends = backends

    async def check(self, backend: str, model: str) -> ModelCheck:
        """Whether ``backend`` lists ``model`` (None: it cannot be told, with the reason)."""
        found = self._config.backends.get(backend)
        client = self._backends.get(backend)
        if found is not None and found.type == "azure":
            return ModelCheck(None, f"backend {backend} is Azure OpenAI, whose model list does not name deployments")
        if found is None or not isinstance(client, ModelLister):
            return ModelCheck(None, f"backend {backend} cannot list its models")
        try:
            async with asyncio.timeout(LIST_SECONDS):
                listed = await client.list_models()
        except BackendError as error:
            log.info("backend %s: listing models to check %r failed: %s", backend, model, error)
            return ModelCheck(None, unreadable(error))
        except TimeoutError:
            return ModelCheck(None, "the backend did not answer in time")
        if is_listed(model, listed):
            return ModelCheck(True)
        more = f" (and {len(listed) - SHOWN} more)" if len(listed) > SHOWN else ""
        offered = ", ".join(listed[:SHOWN]) + more if listed else "none"
        return ModelCheck(False, offered)

    async def default_model(self, backend: str) -> str | None:
        """The model ``backend`` uses when a channel names none; None when its server cannot tell now."""
        found = self._config.backends.get(backend)
        if found is not None and found.model:
            return found.model
        client = self._backends.get(backend)
        if client is None:
            return None
        try:
            async with asyncio.timeout(LIST_SECONDS):
                return await client.default_model()
        except (BackendError, TimeoutError) as error:
            log.info("backend %s: its default model cannot be told now: %r", backend, error)
            return None
