"""The configured backends, opened once per process."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import NO_BACKEND_HELP, Config, ConfigError
from bot.llm.base import Backend
from bot.llm.openai import OpenAIBackend


def open_backends(config: Config, environ: Mapping[str, str]) -> dict[str, Backend]:
    """One client per ``[backends.NAME]``; a missing API key is a config error."""
    if not config.backends:
        raise ConfigError(NO_BACKEND_HELP)
    backends: dict[str, Backend] = {}
    for name, backend in config.backends.items():
        key = environ.get(backend.api_key_env) if backend.api_key_env else None
        if backend.api_key_env and not key:
            raise ConfigError(
                f"[backends.{name}] reads its API key from the environment variable "
                f"{backend.api_key_env}, which is not set: export {backend.api_key_env}=..."
            )
        backends[name] = OpenAIBackend(name, backend, key)
    return backends
