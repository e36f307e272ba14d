"""``[backends.NAME]``: what each backend type needs and allows, its defaults, and the zero-config OpenAI backend.

Imports nothing from the other modules of ``bot.llm`` nor from ``bot.config``, so both may import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.config_errors import ConfigError
from bot.context_windows import context_window_for

OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"

_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_KEY_PREFIX = re.compile(r"(sk|gsk|xai|pk|rk|key)[-_][A-Za-z0-9]", re.IGNORECASE)


def _looks_like_key(value: str) -> bool:
    """An API key pasted where a variable's name belongs (never echoed back)."""
    digits = sum(char.isdigit() for char in value)
    return bool(_KEY_PREFIX.match(value)) or len(value) > 64 or (len(value) >= 20 and digits >= 5 and "_" not in value)


BackendType = Literal["openai", "anthropic", "azure"]

# -- what each backend type needs and allows ([backends.NAME] type = ...) -----------
BACKEND_TYPES: tuple[str, ...] = ("openai", "anthropic", "azure")
_DEFAULT_URLS = {"openai": OPENAI_URL, "anthropic": ANTHROPIC_URL}
_DEFAULT_KEY_ENVS = {"anthropic": "ANTHROPIC_API_KEY", "azure": "AZURE_OPENAI_API_KEY"}
_DEFAULT_API_VERSIONS = {"anthropic": "2023-06-01", "azure": "2024-10-21"}
_ONLY_FOR = {
    "api_version": ("anthropic", "azure"),
    "deployment": ("azure",),
    "stream_usage": ("openai", "azure"),
    "thinking_budget": ("anthropic",),
}


def _per_type_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in what a backend's ``type`` implies; refuse keys that type does not use."""
    values = dict(data)
    kind = values.get("type", "openai")
    if kind not in BACKEND_TYPES:
        return values  # the type field itself reports what is allowed
    for key, types in _ONLY_FOR.items():
        if key in values and kind not in types:
            allowed = " or ".join(f'type = "{name}"' for name in types)
            raise ValueError(f"{key!r} is only for {allowed}; this backend has type = {kind!r}")
    if kind == "azure":
        if "model" in values:
            raise ValueError(
                'an Azure OpenAI backend names its deployment, not a model: write deployment = "..." '
                "(the name you gave the deployment in Azure) instead of model"
            )
        if "base_url" not in values:
            raise ValueError(
                'type = "azure" needs base_url, your resource\'s endpoint, e.g. '
                'base_url = "https://my-resource.openai.azure.com"'
            )
        if not values.get("deployment"):
            raise ValueError('type = "azure" needs deployment = "..." (the name of the deployment in Azure)')
        values["model"] = values["deployment"]
    values.setdefault("base_url", _DEFAULT_URLS.get(kind))
    if kind in _DEFAULT_KEY_ENVS:
        values.setdefault("api_key_env", _DEFAULT_KEY_ENVS[kind])
    if kind in _DEFAULT_API_VERSIONS:
        values.setdefault("api_version", _DEFAULT_API_VERSIONS[kind])
    values.setdefault("context_window", context_window_for(values.get("model")))
    return values


class BackendConfig(BaseModel):
    """``[backends.NAME]``: one LLM endpoint: OpenAI-compatible (default), Anthropic or Azure OpenAI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: BackendType = "openai"
    base_url: str = OPENAI_URL
    api_key_env: str | None = None
    model: str | None = None
    deployment: str | None = None
    """Azure: the deployment's name (it is the backend's model; a channel's ``model`` names another deployment)."""
    api_version: str | None = None
    """Anthropic: the ``anthropic-version`` header; Azure: the ``api-version`` query parameter."""
    stream_usage: bool = True
    """OpenAI-compatible and Azure: ask for usage in the stream (``stream_options``); off for servers that refuse it."""
    thinking_budget: int | None = Field(None, ge=1024)
    """Anthropic: let the model think this many tokens before it answers (extended thinking); None: no thinking."""
    context_window: int = Field(8192, ge=256)
    """Without it in the config: from ``bot.context_windows`` for a well-known model, else 8192."""
    vision: bool | None = None
    """Whether the backend's models see images; None: the models ``bot.vision`` knows to."""
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(120.0, gt=0)
    first_token_timeout: float = Field(45.0, gt=0)
    """Seconds to wait for the first text (or thinking) before the reply fails as a timeout, or a channel's
    fallback answers instead: what a person would wait, far less than ``read_timeout``."""
    max_connections: int = Field(2000, ge=1, le=100_000)
    """Connections to this backend at once (kept alive between calls); a call waits for a free one."""
    max_retries: int = Field(3, ge=0, le=10)
    max_retry_wait: float = Field(30.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in ("api_key", "key", "token", "secret"):
                if key in data:
                    raise ValueError(
                        f"{key!r}: secrets are not read from the config file; put the key in an "
                        'environment variable and name it here, e.g. api_key_env = "OPENAI_API_KEY"'
                    )
            return _per_type_defaults(data)
        return data

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        # Never repeat the value: a user may have pasted the key itself here.
        if value is None:
            return None
        if _looks_like_key(value):
            raise ValueError(
                "this looks like an API key itself; put the key in an environment variable and write "
                'that variable\'s name here, e.g. api_key_env = "OPENAI_API_KEY"'
            )
        if not _ENV_NAME.fullmatch(value):
            raise ValueError(
                'not an environment variable name (capital letters, digits and _), e.g. api_key_env = "OPENAI_API_KEY"'
            )
        return value

    def api_key(self, environ: Mapping[str, str]) -> str | None:
        """The key from the environment, without the newline a secret file often ends with."""
        if not self.api_key_env:
            return None
        key = environ.get(self.api_key_env, "").strip()
        if any(ord(char) < 32 or ord(char) == 127 for char in key):
            raise ConfigError(f"the environment variable {self.api_key_env} holds control characters, not a key")
        return key or None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value.rstrip("/")


def backend_from_openai_env(environ: Mapping[str, str]) -> BackendConfig | None:
    """The backend ``openai`` that OPENAI_API_KEY and/or OPENAI_BASE_URL describe, if either is set."""
    key, url = environ.get("OPENAI_API_KEY"), environ.get("OPENAI_BASE_URL")
    if not key and not url:
        return None
    base_url = (url or OPENAI_URL).rstrip("/")
    try:
        return BackendConfig(
            base_url=base_url,
            api_key_env="OPENAI_API_KEY" if key else None,
            model=OPENAI_DEFAULT_MODEL if base_url == OPENAI_URL else None,
        )
    except ValidationError as error:
        # A plain ValueError is reported like every other problem; this one names the variable.
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(f"OPENAI_BASE_URL: {message}") from None
