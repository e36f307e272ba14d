"""Loading and checking parley's configuration: a TOML file plus environment variables.

Secrets never live in the file: a backend names the environment variable that
holds its key (``api_key_env = "OPENAI_API_KEY"``). Environment variables
(prefix ``PARLEY_``, ``__`` for nesting, e.g. ``PARLEY_HISTORY__TTL_DAYS``)
override the file.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError
from redis.asyncio.connection import parse_url

from bot.context_windows import context_window_for
from bot.settings import ChannelSettings, Layer, validate_patch
from bot.threads import ChannelKey

OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_FILE = "parley.toml"

NO_BACKEND_HELP = f"""\
parley has no LLM backend configured. Set one of these and run it again:

  OpenAI:          export OPENAI_API_KEY=sk-...
  Ollama (local):  export OPENAI_BASE_URL=http://localhost:11434/v1
                   export PARLEY_DEFAULTS__MODEL=llama3.2   # optional: else the first model the server lists

or name a backend in {DEFAULT_FILE} (or the file given by --config / PARLEY_CONFIG):

  [backends.openai]
  base_url = "{OPENAI_URL}"
  api_key_env = "OPENAI_API_KEY"   # the variable that holds the key; never the key itself
  model = "{OPENAI_DEFAULT_MODEL}"
"""

_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_KEY_PREFIX = re.compile(r"(sk|gsk|xai|pk|rk|key)[-_][A-Za-z0-9]", re.IGNORECASE)


def _looks_like_key(value: str) -> bool:
    """An API key pasted where a variable's name belongs (never echoed back)."""
    digits = sum(char.isdigit() for char in value)
    return bool(_KEY_PREFIX.match(value)) or len(value) > 64 or (len(value) >= 20 and digits >= 5 and "_" not in value)


PLATFORM_SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_SECRET",
    "DISCORD_BOT_TOKEN",
)
"""Chat platforms' secrets (environment only), masked in logs like the backends' keys."""
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class ConfigError(Exception):
    """Configuration that cannot be used; the message says what is wrong and where."""


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
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(120.0, gt=0)
    first_token_timeout: float | None = Field(None, gt=0)
    """Seconds to wait for the first text before a channel's fallback answers instead (None: read_timeout)."""
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


class ChannelRule(BaseModel):
    """``[[channels]]``: settings for every channel whose name matches ``match``."""

    model_config = ConfigDict(frozen=True)

    match: str
    settings: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        # Settings sit next to ``match`` in the file; ``settings = {...}`` is accepted too, and checked the same.
        nested = data.get("settings")
        values = dict(nested) if isinstance(nested, Mapping) else {}
        values.update({key: value for key, value in data.items() if key not in ("match", "settings")})
        if "settings" in data and not isinstance(nested, Mapping):
            values["settings"] = nested
        checked = {"settings": validate_patch(values)}
        return {"match": data["match"], **checked} if "match" in data else checked

    @field_validator("match")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if ":" not in value:
            raise ValueError(
                f"{value!r} is not a channel pattern: write platform:workspace/channel with "
                "* wildcards, e.g. slack:T1/C42, discord:*/1234 or console:*"
            )
        return value


class HistoryConfig(BaseModel):
    """``[history]``: how long threads are kept and how much of each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_days: float = Field(30.0, gt=0, le=36500, allow_inf_nan=False)
    max_turns: int = Field(100, ge=1, description="turns (a message and its answer) kept per thread")

    @property
    def ttl_seconds(self) -> int:
        return max(1, math.ceil(self.ttl_days * 86400))


class SlackPrompt(BaseModel):
    """One suggested prompt of Slack's assistant view: the button's title and the message it sends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=75)
    message: str = Field(min_length=1, max_length=2000)


class SlackConfig(BaseModel):
    """``[slack]``: how the Slack adapter behaves (tokens come from the environment only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edit_interval: float = Field(1.0, ge=0, le=60, description="seconds between two edits of a streamed reply")
    placeholder: str = Field(
        "_thinking…_", max_length=200, description='posted at once, then edited into the reply ("": none)'
    )
    answer_bots: bool = Field(False, description="answer messages from other bots (never its own)")
    workspace_admins_are_admins: bool = Field(
        False, description="workspace admins and owners (users.info) may change settings too"
    )
    assistant_greeting: str = Field(
        "Hi! Ask me anything.", min_length=1, max_length=3000, description="posted when an assistant thread opens"
    )
    suggested_prompts: list[SlackPrompt] = Field(
        default_factory=lambda: [
            SlackPrompt(title="Summarise", message="Summarise the key points of a text I will paste."),
            SlackPrompt(title="Explain", message="Explain a concept to me in simple terms."),
        ],
        max_length=4,
        description="up to 4 suggested prompts shown when an assistant thread opens",
    )


class DiscordConfig(BaseModel):
    """``[discord]``: how the Discord adapter behaves (the token comes from the environment only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edit_interval: float = Field(1.5, ge=0, le=60, description="seconds between two edits of a streamed reply")
    guilds: list[str] = Field(
        default_factory=list,
        description="server (guild) ids to sync /parley to at start-up, instantly; empty: sync globally",
    )
    answer_bots: bool = Field(False, description="answer messages from other bots (never its own)")

    @field_validator("guilds", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        """A server id written as a TOML number is as good as a string."""
        if isinstance(value, list):
            return [str(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in value]
        return value

    @field_validator("guilds")
    @classmethod
    def _snowflakes(cls, value: list[str]) -> list[str]:
        for guild in value:
            if not guild.isdigit() or not guild.isascii():
                raise ValueError(
                    f"{guild!r} is not a Discord server id: write its digits in quotes, e.g. "
                    'guilds = ["1234567890123456789"] (Developer Mode -> right-click the server -> Copy Server ID)'
                )
        return value


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_",
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    redis_url: str | None = Field(None, validation_alias=AliasChoices("redis_url", "REDIS_URL", "PARLEY_REDIS_URL"))
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("parley"))
    redis_prefix: str = "parley"
    event_dedup_hours: float = Field(24.0, gt=0, le=24 * 3650, allow_inf_nan=False)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    admins: list[str] = Field(default_factory=list)
    """Author ids allowed to change settings, as ``platform:user_id`` (``slack:U0123``)."""
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    channels: list[ChannelRule] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values come in as init arguments; the environment wins over them.
        return env_settings, init_settings

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(REDIS_SCHEMES):
            raise ValueError("a Redis URL starts with redis://, rediss:// or unix://, e.g. redis://localhost:6379/0")
        try:
            parse_url(value)
        except ValueError as error:
            raise ValueError(f"not a usable Redis URL: {error}") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("defaults", mode="before")
    @classmethod
    def _defaults(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return validate_patch(value)
        return value

    @model_validator(mode="after")
    def _backends(self) -> Config:
        if not self.backends:
            implicit = _backend_from_openai_env(os.environ)
            if implicit is not None:
                self.backends["openai"] = implicit
        names = sorted(self.backends)
        referenced = [("[defaults] backend", self.defaults.get("backend"))] + [
            (f"[[channels]] #{number} (match = {rule.match!r}) backend", rule.settings.get("backend"))
            for number, rule in enumerate(self.channels, start=1)
        ]
        for where, backend in referenced:
            if backend is not None and backend not in self.backends:
                allowed = ", ".join(names) or "none are configured"
                raise ValueError(f"{where}: unknown backend {backend!r}; configured backends: {allowed}")
        self._check_room()
        return self

    def _check_room(self) -> None:
        """Every layer's max_tokens leaves room for a prompt in the window of the backend it goes with."""
        if not self.backends:
            return
        base_backend = self.defaults.get("backend") or next(iter(self.backends))
        base_tokens = self.defaults.get("max_tokens", ChannelSettings.model_fields["max_tokens"].default)
        layers = [("[defaults]", base_backend, base_tokens)] + [
            (
                f"[[channels]] #{number} (match = {rule.match!r})",
                rule.settings.get("backend", base_backend),
                rule.settings.get("max_tokens", base_tokens),
            )
            for number, rule in enumerate(self.channels, start=1)
        ]
        for where, backend, max_tokens in layers:
            if problem := self.room_problem(backend, max_tokens):
                raise ValueError(f"{where} {problem}")

    def room_problem(self, backend: str, max_tokens: int) -> str | None:
        """Why ``max_tokens`` leaves no room for a prompt in the backend's context window, if it does not."""
        window = self.backends[backend].context_window
        if max_tokens < window:
            return None
        return (
            f"max_tokens: {max_tokens} leaves no room for the prompt in the {window}-token context window "
            f"of backend {backend}; set max_tokens below {window} (e.g. {window // 4})"
        )

    @model_validator(mode="after")
    def _fallback_backends(self) -> Config:
        """Every fallback a layer names is a configured backend (runs after ``_backends``)."""
        names = ", ".join(sorted(self.backends)) or "none are configured"
        layers = [("[defaults]", self.defaults)] + [
            (f"[[channels]] #{number} (match = {rule.match!r})", rule.settings)
            for number, rule in enumerate(self.channels, start=1)
        ]
        for where, values in layers:
            for entry in values.get("fallbacks", []):
                backend = entry.partition(":")[0]
                if backend not in self.backends:
                    raise ValueError(f"{where} fallbacks: unknown backend {backend!r}; configured backends: {names}")
        return self

    @property
    def dedup_seconds(self) -> int:
        return max(1, math.ceil(self.event_dedup_hours * 3600))

    @property
    def default_backend(self) -> str:
        if not self.backends:
            raise ConfigError(NO_BACKEND_HELP)
        return next(iter(self.backends))

    def layers_for(self, channel: ChannelKey) -> list[Layer]:
        """The file's settings layers that apply to a channel, lowest priority first."""
        layers = [Layer("[defaults]", self.defaults)] if self.defaults else []
        for number, rule in enumerate(self.channels, start=1):
            if channel.matches(rule.match):
                layers.append(Layer(f"channel rule {number} ({rule.match})", rule.settings))
        return layers

    def is_admin(self, platform: str, user_id: str) -> bool:
        return f"{platform}:{user_id}" in self.admins

    def secrets(self) -> list[str]:
        """Every API key the backends use, for redacting logs."""
        keys = [os.environ.get(b.api_key_env, "") for b in self.backends.values() if b.api_key_env]
        keys += [os.environ.get(name, "") for name in PLATFORM_SECRETS]
        return list(dict.fromkeys(variant for key in keys if key.strip() for variant in (key, key.strip())))


def _backend_from_openai_env(environ: Mapping[str, str]) -> BackendConfig | None:
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


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """``--config`` wins, then ``PARLEY_CONFIG``, then ``parley.toml`` here if there is one."""
    chosen = explicit or environ.get("PARLEY_CONFIG")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def load_config(path: Path | None) -> Config:
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    try:
        return Config(**data)
    except ValidationError as error:
        where = str(path) if path else "environment"
        raise ConfigError(format_errors(where, error, data)) from None
    except SettingsError as error:  # an environment variable that is not valid JSON for a list or table
        raise ConfigError(
            f"environment: {error}; lists and tables are written as JSON, e.g. PARLEY_ADMINS='[\"slack:U0123\"]'"
        ) from None


_TABLES: dict[str, type[BaseModel]] = {"history": HistoryConfig, "slack": SlackConfig, "discord": DiscordConfig}


def format_errors(where: str, error: ValidationError, data: Mapping[str, Any]) -> str:
    """One line per problem, naming the TOML table and key it is in."""
    lines = [f"{where}: {error.error_count()} problem(s):"]
    for item in error.errors():
        loc = item["loc"]
        message = item["msg"].removeprefix("Value error, ")
        place = _place(loc, data)
        env = _env_name(loc, message)
        if env in os.environ or (item["type"] != "missing" and not _in_file(loc, data, message)):
            place = f"{place} (from the environment: {env})"
        if item["type"] == "extra_forbidden":
            message = f"unknown key; allowed here: {', '.join(_allowed_keys(loc))}"
        elif item["type"] not in ("missing", "value_error") and not isinstance(item.get("input"), Mapping):
            message = f"{message} (got {item['input']!r})"
        if not loc and item["type"] == "value_error":
            lines.append(f"  {message}")  # a check across tables: the message names its own place
        else:
            lines.append(f"  {place}: {message}")
    return "\n".join(lines)


def _in_file(loc: tuple[int | str, ...], data: Mapping[str, Any], message: str) -> bool:
    """Whether the value at ``loc`` was written in the file (else it came from a PARLEY_ variable)."""
    if not loc:
        return True
    node: Any = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if loc == ("defaults",) and isinstance(node, Mapping):  # the message names the key within [defaults]
        return _setting_named(message) in node
    return True


def _setting_named(message: str) -> str:
    found = re.match(r"unknown setting '(\w+)'|(\w+):", message)
    return (found.group(1) or found.group(2)) if found else ""


def _env_name(loc: tuple[int | str, ...], message: str) -> str:
    if loc == ("redis_url",):
        return "REDIS_URL"
    parts = [str(part).upper() for part in loc]
    if loc == ("defaults",):
        parts.append(_setting_named(message).upper())
    return "PARLEY_" + "__".join(parts)


def _place(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    if not loc:
        return "(top level)"
    head, rest = loc[0], [str(part) for part in loc[1:]]
    if head == "backends" and rest:
        return f"[backends.{rest[0]}]" + (f" {'.'.join(rest[1:])}" if rest[1:] else "")
    if head == "channels" and rest and isinstance(loc[1], int):
        rules = data.get("channels", [])
        index = loc[1]
        match = rules[index].get("match") if index < len(rules) and isinstance(rules[index], Mapping) else None
        label = f"[[channels]] #{index + 1}" + (f" (match = {match!r})" if match else "")
        return label + (f" {'.'.join(rest[1:])}" if rest[1:] else "")
    if head == "defaults" or head in _TABLES:
        return f"[{head}]" + (f" {'.'.join(rest)}" if rest else "")
    return ".".join(str(part) for part in loc)


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    if len(loc) >= 3 and loc[0] == "backends":
        return list(BackendConfig.model_fields)
    if len(loc) >= 2 and loc[0] in _TABLES:
        return list(_TABLES[str(loc[0])].model_fields)
    return [name for name in Config.model_fields]
