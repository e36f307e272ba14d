"""The configured backends, opened once per process."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.config import NO_BACKEND_HELP, BackendConfig, Config, ConfigError
from bot.llm.anthropic import AnthropicBackend
from bot.llm.azure import AzureOpenAIBackend
from bot.llm.base import Backend
from bot.llm.openai import OpenAIBackend

log = logging.getLogger(__name__)


def open_backends(config: Config, environ: Mapping[str, str]) -> dict[str, Backend]:
    """One client per ``[backends.NAME]``.

    A backend whose key variable is not set still opens (it answers every
    request with an auth failure and a warning is logged), so a config can
    name backends that this machine does not use; but if no backend can work
    at all, that is a configuration error.
    """
    if not config.backends:
        raise ConfigError(NO_BACKEND_HELP)
    keys = {name: backend.api_key(environ) for name, backend in config.backends.items()}
    missing = [
        f"[backends.{name}] reads its API key from the environment variable "
        f"{backend.api_key_env}, which is not set: export {backend.api_key_env}=..."
        for name, backend in config.backends.items()
        if backend.api_key_env and not keys[name]
    ]
    if len(missing) == len(config.backends):
        raise ConfigError("\n".join(missing))
    for problem in missing:
        log.warning("%s (channels that use this backend get an error until it is)", problem)
    return {name: open_backend(name, backend, keys[name]) for name, backend in config.backends.items()}


def open_backend(name: str, config: BackendConfig, api_key: str | None) -> Backend:
    """The client for one backend, by its ``type``."""
    if config.type == "anthropic":
        return AnthropicBackend(name, config, api_key)
    if config.type == "azure":
        return AzureOpenAIBackend(name, config, api_key)
    return OpenAIBackend(name, config, api_key)
