"""Per-channel parameters (the playground's settings panel) and how they resolve.

Pure logic: no I/O. Layers are applied in order, later ones win:
built-in defaults < ``[defaults]`` < matching channel rules in file order <
the runtime override stored for that channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TriggerMode = Literal["mention", "thread"]
ReplyMode = Literal["thread", "reply"]
BUILT_IN = "built-in default"
FALLBACK = re.compile(r"[^\s:]+(:\S+)?")
"""A fallback: a backend's name, optionally with a model (``local``, ``local:llama3.2:1b``)."""
KNOWLEDGE_NAME = re.compile(r"[A-Za-z0-9_-]+")
"""The name of a ``[knowledge.NAME]`` table."""


class ChannelSettings(BaseModel):
    """Everything that can differ from one channel to the next."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str | None = Field(None, description="name of a configured backend (default: the first one configured)")
    model: str | None = Field(None, description="model name (default: the backend's model)")
    system_prompt: str = Field(
        "You are a helpful assistant in a team chat. Answer clearly and concisely.",
        description="the system prompt, free text",
    )
    temperature: float | None = Field(None, ge=0, le=2, description="a number from 0 to 2")
    top_p: float | None = Field(None, gt=0, le=1, description="a number above 0, at most 1")
    max_tokens: int = Field(1024, ge=1, le=1_000_000, description="a whole number of tokens, 1 or more")
    presence_penalty: float | None = Field(None, ge=-2, le=2, description="a number from -2 to 2")
    frequency_penalty: float | None = Field(None, ge=-2, le=2, description="a number from -2 to 2")
    stop: list[str] = Field(
        default_factory=list,
        max_length=4,
        description='up to 4 stop sequences: one string, or a JSON list like ["END", "###"]',
    )
    history_turns: int = Field(20, ge=0, le=1000, description="how many earlier turns to send, 0 to 1000")
    history_tokens: int | None = Field(
        None, ge=1, description="a token budget for earlier turns (default: the context window)"
    )
    stream: bool = Field(True, description="true or false: show the reply while it is written")
    trigger: TriggerMode = Field(
        "thread",
        description='"mention" (answer only when mentioned) or "thread" (every message in a thread the bot is in)',
    )
    enabled: bool = Field(True, description="true or false: whether the bot answers in this channel")
    reply_mode: ReplyMode = Field(
        "thread",
        description='Discord: "thread" (open a thread from the mention) or "reply" (answer in place, a reply chain)',
    )

    # -- fallbacks, time cap, reasoning, budget, summaries -------------------------
    fallbacks: list[str] = Field(
        default_factory=list,
        max_length=4,
        description='up to 4 backends that answer when this one fails, in order: "NAME" or "NAME:MODEL" '
        '(from chat: comma-separated, or a JSON list like ["local", "openai:gpt-4o-mini"])',
    )
    reply_timeout_seconds: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="seconds a reply may take in all (more than 0, at most 3600); a longer one is cut off",
    )
    show_reasoning: bool = Field(
        False, description="true or false: show a reasoning model's thinking, quoted, before its answer"
    )
    daily_token_budget: int | None = Field(
        None, ge=1, description="tokens this channel may use per UTC day, a whole number (default: no limit)"
    )
    summarize: bool = Field(
        False, description="true or false: fold turns that no longer fit into a running summary of the thread"
    )

    # -- what parley reads of the thread it joins --------------------------------------------
    thread_context: bool = Field(
        True, description="true or false: read a thread's earlier messages when first addressed in it"
    )
    thread_context_messages: int = Field(
        50, ge=1, le=1000, description="how many of a thread's earlier messages to read, 1 to 1000"
    )

    # -- the helpdesk: answers grounded in the team's documents ---------------------------------
    knowledge: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="[knowledge.NAME] tables the answers are grounded in: a name, or up to 8 "
        '(comma-separated, or a JSON list like ["it", "hr"])',
    )
    grounded_only: bool = Field(
        False,
        description="true or false: with knowledge, answer that parley does not know (and offer a person) when "
        "the documents hold nothing relevant, rather than let the model answer",
    )

    # -- the helpdesk: a person to call in ---------------------------------------------------
    oncall: str | None = Field(
        None,
        max_length=200,
        description="who a hand-off calls in: a user group or role, as its mention (@it-oncall); "
        "set (or knowledge), the channel is a helpdesk: feedback and hand-off buttons on each answer",
    )

    @field_validator("fallbacks", "knowledge", mode="before")
    @classmethod
    def _fallback_list(cls, value: Any) -> Any:
        """From chat or the environment: a JSON list, or names separated by commas or spaces."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError("not a JSON list") from None
        return [name for name in re.split(r"[,\s]+", text) if name]

    @field_validator("fallbacks")
    @classmethod
    def _fallback_names(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not FALLBACK.fullmatch(entry):
                raise ValueError(f"{entry!r} is not a backend name or NAME:MODEL")
        return value

    @field_validator("knowledge")
    @classmethod
    def _knowledge_names(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not KNOWLEDGE_NAME.fullmatch(entry):
                raise ValueError(f"{entry!r} is not a knowledge name (letters, digits, - and _)")
        return list(dict.fromkeys(value))

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop(cls, value: Any) -> Any:
        """``stop`` may be written as one string, or as a JSON list in a string (chat, environment)."""
        return _parse_stop(value.strip()) if isinstance(value, str) else value


KEYS: tuple[str, ...] = tuple(ChannelSettings.model_fields)


class SettingError(ValueError):
    """A setting that cannot be accepted; the message says what is allowed."""


def describe(key: str) -> str:
    return ChannelSettings.model_fields[key].description or ""


def _explain(error: ValidationError, raw: Mapping[str, object]) -> str:
    """One sentence per rejected key, showing the value as it was given for that key."""
    parts: list[str] = []
    for item in error.errors():
        key = str(item["loc"][0]) if item["loc"] else "?"
        allowed = describe(key) if key in KEYS else ""
        message = item["msg"].removeprefix("Value error, ").rstrip(".")
        part = f"{key}: {message} (got {raw.get(key)!r}). Allowed: {allowed}."
        if part not in parts:
            parts.append(part)
    return " ".join(parts)


def check_key(key: str) -> None:
    """Raise SettingError, listing the allowed settings, unless ``key`` is one."""
    if key not in KEYS:
        raise SettingError(f"unknown setting {key!r}. Allowed settings: {', '.join(KEYS)}.")


def validate_patch(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a partial set of settings (a config table); return the typed values."""
    for key in values:
        check_key(key)
    try:
        checked = ChannelSettings.model_validate(dict(values))
    except ValidationError as error:
        raise SettingError(_explain(error, values)) from None
    return {key: getattr(checked, key) for key in values}


def parse_value(key: str, raw: str) -> Any:
    """Turn a value typed in chat (``/set temperature 0.3``) into its typed form."""
    check_key(key)
    value: Any = raw.strip()
    if value.lower() in ("none", "null"):
        if key in ("stop", "fallbacks", "knowledge"):
            value = []
        elif ChannelSettings.model_fields[key].default is None:
            value = None
    elif key in ("trigger", "reply_mode"):
        value = value.lower()
    try:
        checked = ChannelSettings.model_validate({key: value})
    except ValidationError as error:
        raise SettingError(_explain(error, {key: raw.strip()})) from None
    return getattr(checked, key)


def _parse_stop(text: str) -> Any:
    """One stop sequence, optionally in JSON quotes (``"###"``), or a JSON list of them."""
    if text.startswith(("[", '"')):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("not a JSON list or string") from None
        return [parsed] if isinstance(parsed, str) else parsed
    return [text] if text else []


@dataclass(frozen=True, slots=True)
class Layer:
    source: str
    """Where these values come from, as shown to users (``[defaults]``, ``channel rule 2 (chat:*)``)."""
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Resolved:
    settings: ChannelSettings
    sources: Mapping[str, str]
    """For each key, the layer its value came from."""


def resolve(layers: Sequence[Layer]) -> Resolved:
    merged: dict[str, Any] = {}
    sources = dict.fromkeys(KEYS, BUILT_IN)
    for layer in layers:
        for key, value in layer.values.items():
            merged[key] = value
            sources[key] = layer.source
    return Resolved(ChannelSettings.model_validate(merged), sources)


def format_value(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)
