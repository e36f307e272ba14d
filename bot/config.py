"""Loading and checking parley's configuration: a TOML file plus environment variables.

Secrets never live in the file: a backend names the environment variable that holds its key
(``api_key_env = "OPENAI_API_KEY"``). Environment variables (prefix ``PARLEY_``, ``__`` for nesting,
e.g. ``PARLEY_HISTORY__TTL_DAYS``) override the file; the environment is handed in, never read here.

``Config`` holds the core's keys. Each adapter declares its own ``AdapterTable``; the composition root
registers them with ``Config.with_tables``, and an adapter reads its own with ``config.table(ItsTable)``.
Backend types live in ``bot.llm.backend_config``, error messages in ``bot.config_errors``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar, cast

import platformdirs
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsError
from redis.asyncio.connection import parse_url

from bot.config_errors import ConfigError as ConfigError
from bot.config_errors import format_errors
from bot.config_sources import file_and_environment, read_file
from bot.config_tables import FilesConfig as FilesConfig
from bot.config_tables import HelpdeskConfig as HelpdeskConfig
from bot.config_tables import HistoryConfig as HistoryConfig
from bot.config_tables import QueueConfig as QueueConfig
from bot.knowledge.config import KnowledgeConfig
from bot.llm.backend_config import OPENAI_DEFAULT_MODEL, OPENAI_URL, backend_from_openai_env
from bot.llm.backend_config import BackendConfig as BackendConfig
from bot.logs import LogFormat
from bot.rate_limits import RateLimitsConfig
from bot.settings import KNOWLEDGE_NAME, ChannelSettings, Layer, validate_patch
from bot.threads import ChannelKey

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

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class AdapterTable(BaseModel):
    """The table of keys an adapter declares for itself: ``[TABLE]`` in the file, ``PARLEY_TABLE__KEY`` in the
    environment. Unknown keys are refused, like everywhere in the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TABLE: ClassVar[str]
    """The table's name in the file."""
    SECRETS: ClassVar[tuple[str, ...]] = ()
    """Environment variables that hold the platform's secrets (never in the file), masked in logs."""
    CHANNEL_EXAMPLE: ClassVar[str]
    """A channel pattern of the platform, shown in messages (``platform:workspace/channel``)."""
    ADMIN_EXAMPLE: ClassVar[str]
    """An ``admins`` entry of the platform, shown in messages (``platform:user_id``)."""


TableT = TypeVar("TableT", bound=AdapterTable)


@dataclass(frozen=True, slots=True)
class _Loading:
    """What checking a configuration needs besides its values (pydantic's validation context)."""

    environ: Mapping[str, str]
    tables: tuple[type[AdapterTable], ...]


def _loading(info: ValidationInfo) -> _Loading:
    """The context ``load_config`` validates with; a Config built directly has an empty environment."""
    return info.context if isinstance(info.context, _Loading) else _Loading({}, ())


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
    def _pattern(cls, value: str, info: ValidationInfo) -> str:
        if ":" not in value:
            *others, last = [table.CHANNEL_EXAMPLE for table in _loading(info).tables] + ["console:*"]
            examples = f"{', '.join(others)} or {last}" if others else last
            raise ValueError(
                f"{value!r} is not a channel pattern: write platform:workspace/channel with "
                f"* wildcards, e.g. {examples}"
            )
        return value


class _Head(BaseModel):
    """The config's keys up to ``[history]``; the adapters' tables come right after them (``Config.with_tables``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    redis_url: str | None = Field(None, validation_alias=AliasChoices("redis_url", "REDIS_URL", "PARLEY_REDIS_URL"))
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("parley"))
    redis_prefix: str = "parley"
    redis_max_connections: int = Field(500, ge=1, le=100_000)
    """Connections to Redis this process keeps at most; a command waits for a free one rather than failing."""
    redis_retry_seconds: float = Field(10.0, ge=0, le=120, allow_inf_nan=False)
    """How long a Redis command that finds Redis gone (a restart, a network blip) is tried again before it fails."""
    event_dedup_hours: float = Field(24.0, gt=0, le=24 * 3650, allow_inf_nan=False)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: LogFormat = "text"
    """``json``: one JSON object per log line (``--log-format`` wins over it)."""
    admins: list[str] = Field(default_factory=list)
    """Author ids allowed to change settings, as ``platform:user_id``."""
    rate_limits: RateLimitsConfig = Field(default_factory=RateLimitsConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    files: FilesConfig = Field(default_factory=FilesConfig)
    helpdesk: HelpdeskConfig = Field(default_factory=HelpdeskConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)

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


class Config(_Head):
    """The core's keys. ``with_tables`` adds the adapters' tables; ``load_config`` reads file and environment."""

    knowledge: dict[str, KnowledgeConfig] = Field(default_factory=dict)
    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    channels: list[ChannelRule] = Field(default_factory=list)

    @classmethod
    def with_tables(cls, *tables: type[AdapterTable]) -> type[Self]:
        """This config with each adapter's table as a key of its own (its defaults when the file has none).

        The tables extend ``_Head`` in a class of their own that the result inherits after this one: pydantic
        orders keys by the bases, so they come right after ``[history]``, where messages have listed them."""
        fields: dict[str, Any] = {table.TABLE: (table, Field(default_factory=table)) for table in tables}
        head = create_model("Tables", __base__=_Head, __module__=cls.__module__, **fields)
        bases: tuple[type[BaseModel], ...] = (cls, head)
        return cast(type[Self], create_model(cls.__name__, __base__=bases, __module__=cls.__module__))

    @classmethod
    def tables(cls) -> tuple[type[AdapterTable], ...]:
        """The adapters' tables registered with ``with_tables``, in order."""
        found = (field.annotation for field in cls.model_fields.values())
        return tuple(kind for kind in found if isinstance(kind, type) and issubclass(kind, AdapterTable))

    def table(self, kind: type[TableT]) -> TableT:
        """An adapter's table, as the file and environment set it."""
        found = getattr(self, kind.TABLE, None)
        if not isinstance(found, kind):
            raise LookupError(f"[{kind.TABLE}] is not a table of this config: register it with Config.with_tables")
        return found

    @field_validator("defaults", mode="before")
    @classmethod
    def _defaults(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return validate_patch(value)
        return value

    @model_validator(mode="after")
    def _backends(self, info: ValidationInfo) -> Self:
        if not self.backends:
            implicit = backend_from_openai_env(_loading(info).environ)
            if implicit is not None:
                self.backends["openai"] = implicit
        names = sorted(self.backends)
        referenced = [("[defaults] backend", self.defaults.get("backend"))] + [
            (f"[[channels]] #{number} (match = {rule.match!r}) backend", rule.settings.get("backend"))
            for number, rule in enumerate(self.channels, start=1)
        ]
        for where, backend in referenced:
            if self.unknown_backend("backend", backend) is not None:
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
    def _fallback_backends(self) -> Self:
        """Every fallback a layer names is a configured backend (runs after ``_backends``)."""
        names = ", ".join(sorted(self.backends)) or "none are configured"
        layers = [("[defaults]", self.defaults)] + [
            (f"[[channels]] #{number} (match = {rule.match!r})", rule.settings)
            for number, rule in enumerate(self.channels, start=1)
        ]
        for where, values in layers:
            entry = self.unknown_backend("fallbacks", values.get("fallbacks", []))
            if entry is not None:
                backend = entry.partition(":")[0]
                raise ValueError(f"{where} fallbacks: unknown backend {backend!r}; configured backends: {names}")
        return self

    @field_validator("knowledge")
    @classmethod
    def _knowledge_names(cls, value: dict[str, KnowledgeConfig]) -> dict[str, KnowledgeConfig]:
        for name in value:
            if not KNOWLEDGE_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a knowledge name: use letters, digits, - and _, e.g. [knowledge.it]")
        return value

    @model_validator(mode="after")
    def _knowledge_sources(self) -> Self:
        """Every knowledge source a layer names is a ``[knowledge.NAME]`` table."""
        layers = [("[defaults]", self.defaults)] + [
            (f"[[channels]] #{number} (match = {rule.match!r})", rule.settings)
            for number, rule in enumerate(self.channels, start=1)
        ]
        for where, values in layers:
            unknown = self.unknown_knowledge(values.get("knowledge", []))
            if unknown is not None:
                raise ValueError(f"{where} knowledge: unknown knowledge source {unknown!r}; {self.knowledge_names()}")
        return self

    def unknown_knowledge(self, names: list[str]) -> str | None:
        """The first of ``names`` that is not a ``[knowledge.NAME]`` table, if any."""
        return next((name for name in names if name not in self.knowledge), None)

    def knowledge_names(self) -> str:
        """The configured knowledge sources, as a message lists them."""
        if not self.knowledge:
            return "none are configured (add a [knowledge.NAME] table with a path to the config file)"
        return f"configured: {', '.join(sorted(self.knowledge))}"

    def unknown_backend(self, key: str, value: Any) -> str | None:
        """What a ``backend`` or ``fallbacks`` setting names that is not a configured backend: the backend,
        or the first fallback entry (``backend`` or ``backend:model``) whose backend is not configured."""
        if key == "backend" and value is not None and value not in self.backends:
            return str(value)
        if key == "fallbacks":
            return next((entry for entry in value if entry.partition(":")[0] not in self.backends), None)
        return None

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

    def secrets(self, environ: Mapping[str, str]) -> list[str]:
        """Every API key the backends use and every secret the adapters' tables name, for redacting logs."""
        names = [b.api_key_env for b in self.backends.values() if b.api_key_env]
        names += [name for table in self.tables() for name in table.SECRETS]
        keys = [environ.get(name, "") for name in names]
        return list(dict.fromkeys(variant for key in keys if key.strip() for variant in (key, key.strip())))


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


def load_config(path: Path | None, environ: Mapping[str, str], schema: type[Config] = Config) -> Config:
    """The file at ``path`` (if any) with ``environ``'s PARLEY_* variables over it, checked against ``schema``
    (``Config``, or ``Config.with_tables(...)``); ConfigError names every problem and where it is."""
    data = read_file(path) if path is not None else {}
    try:
        values = file_and_environment(schema, data, environ)
        return schema.model_validate(values, context=_Loading(environ, schema.tables()))
    except ValidationError as error:
        where = str(path) if path else "environment"
        raise ConfigError(format_errors(where, error, data, schema, environ)) from None
    except SettingsError as error:  # an environment variable that is not valid JSON for a list or table
        tables = schema.tables()
        admin = tables[0].ADMIN_EXAMPLE if tables else "platform:user_id"
        raise ConfigError(
            f"environment: {error}; lists and tables are written as JSON, e.g. PARLEY_ADMINS='[\"{admin}\"]'"
        ) from None
