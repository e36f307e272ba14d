"""Configuration problems as the user reads them: ``ConfigError``, and pydantic's errors named by TOML table and key.

``format_errors`` turns a ``ValidationError`` into one line per problem, saying where it is
(``[backends.local] base_url``, ``[[channels]] #2 (match = '...')``, ``[history] ttl_days``) and
whether the value came from an environment variable instead of the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, get_args

from pydantic import BaseModel, ValidationError


class ConfigError(Exception):
    """Configuration that cannot be used; the message says what is wrong and where."""


def format_errors(
    where: str, error: ValidationError, data: Mapping[str, Any], schema: type[BaseModel], environ: Mapping[str, str]
) -> str:
    """One line per problem, naming the TOML table and key it is in.

    ``data`` is what the file holds (anything else came from the environment), ``schema`` the
    configuration's model (its tables give the places), ``environ`` the variables it was read with.
    """
    lines = [f"{where}: {error.error_count()} problem(s):"]
    tables = _tables(schema)
    for item in error.errors():
        loc = item["loc"]
        message = item["msg"].removeprefix("Value error, ")
        place = _place(loc, data, tables)
        env = _env_name(loc, message)
        if env in environ or (item["type"] != "missing" and not _in_file(loc, data, message)):
            place = f"{place} (from the environment: {env})"
        if item["type"] == "extra_forbidden":
            message = f"unknown key; allowed here: {', '.join(_allowed_keys(loc, schema, tables))}"
        elif item["type"] not in ("missing", "value_error") and not isinstance(item.get("input"), Mapping):
            message = f"{message} (got {item['input']!r})"
        if not loc and item["type"] == "value_error":
            lines.append(f"  {message}")  # a check across tables: the message names its own place
        else:
            lines.append(f"  {place}: {message}")
    return "\n".join(lines)


def _tables(schema: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The schema's tables of keys (``[history]``, each adapter's), by name, in the schema's order."""
    return {
        name: field.annotation
        for name, field in schema.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


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


def _place(loc: tuple[int | str, ...], data: Mapping[str, Any], tables: Mapping[str, type[BaseModel]]) -> str:
    if not loc:
        return "(top level)"
    head, rest = loc[0], [str(part) for part in loc[1:]]
    if head in ("backends", "knowledge") and rest:
        return f"[{head}.{rest[0]}]" + (f" {'.'.join(rest[1:])}" if rest[1:] else "")
    if head == "channels" and rest and isinstance(loc[1], int):
        rules = data.get("channels", [])
        index = loc[1]
        match = rules[index].get("match") if index < len(rules) and isinstance(rules[index], Mapping) else None
        label = f"[[channels]] #{index + 1}" + (f" (match = {match!r})" if match else "")
        return label + (f" {'.'.join(rest[1:])}" if rest[1:] else "")
    if head == "defaults" or head in tables:
        return f"[{head}]" + (f" {'.'.join(rest)}" if rest else "")
    return ".".join(str(part) for part in loc)


def _allowed_keys(
    loc: tuple[int | str, ...], schema: type[BaseModel], tables: Mapping[str, type[BaseModel]]
) -> list[str]:
    if len(loc) >= 3 and loc[0] in ("backends", "knowledge"):
        _, table = get_args(schema.model_fields[str(loc[0])].annotation)
        return list(table.model_fields)
    if len(loc) >= 2 and loc[0] in tables:
        return list(tables[str(loc[0])].model_fields)
    return list(schema.model_fields)
