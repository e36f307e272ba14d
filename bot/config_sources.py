"""Where a configuration's values come from: the TOML file, and the PARLEY_* variables of the environment handed in.

pydantic-settings reads the variables (``__`` goes into a table, JSON for lists and tables, empty ones
ignored) for the keys of the schema it is given; the schema itself (``bot.config.Config``) checks the values.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, create_model
from pydantic_settings import BaseSettings, InitSettingsSource, SettingsConfigDict
from pydantic_settings import EnvSettingsSource as PydanticEnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from bot.config_errors import ConfigError


def read_file(path: Path) -> dict[str, Any]:
    """The TOML file's tables and keys; ConfigError when it cannot be read or is not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None


def file_and_environment(
    schema: type[BaseModel], data: Mapping[str, Any], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The file's values with the environment's over them. A key the file writes under another of its names
    (``REDIS_URL``) keeps that name, so that a problem with its value names what the file says."""
    reader = _reader(schema)
    values = _merged(InitSettingsSource(reader, dict(data))(), EnvSettingsSource(reader, environ)())
    for name, field in schema.model_fields.items():
        names = field.validation_alias.choices if isinstance(field.validation_alias, AliasChoices) else []
        written = next((other for other in names if isinstance(other, str) and other != name and other in data), None)
        if written is not None and name in values:
            values[written] = values.pop(name)
    return values


class _Environment(BaseSettings):
    """How PARLEY_* variables name a config's keys: ``__`` goes into a table, empty variables are ignored."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_nested_delimiter="__", env_ignore_empty=True)


def _reader(schema: type[BaseModel]) -> type[BaseSettings]:
    """``schema``'s keys as pydantic-settings reads them from a file's table and the environment (never validated:
    ``schema`` itself checks the values)."""
    fields: dict[str, Any] = {name: (field.annotation, field) for name, field in schema.model_fields.items()}
    return create_model(schema.__name__, __base__=_Environment, **fields)


class EnvSettingsSource(PydanticEnvSettingsSource):
    """The PARLEY_* values of the environment handed in (not necessarily ``os.environ``). Named as its base is:
    pydantic-settings puts the source's class name in its messages (``error parsing value ... from source``)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s values, table by table (the environment's keys win over the file's)."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, Mapping) and isinstance(value, Mapping) else value
    return merged
