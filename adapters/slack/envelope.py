"""Pure: whether a signed Slack body has the shape Bolt and parley read, before either reads it.

Bolt reads a body's ``team``, ``user``, ``channel``, ``authorizations``, ``event``... without checking their
types, and parley's listeners read an event's ``text``, ``ts``, ``files``... as Slack sends them. A body that
is signed but of another shape (``event`` a list, ``user`` a number, ``text`` an object, 1,000 levels deep)
would fail there, with a 500 and a traceback, or be answered as garbage. ``problem`` says what is wrong with
it, or None: the fields are checked where Bolt and parley look for them, and only those; every other field
(blocks, attachments, metadata...) is left as Slack sent it, apart from the depth and the strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 64
"""Levels of nested objects and lists; Slack's own payloads (rich text blocks included) stay far below."""

_OBJECT = (dict,)
_LIST = (list,)
_TEXT = (str, type(None))
_FLAG = (bool, type(None))
_WHOLE = (int, type(None))
_ID_OR_OBJECT = (str, dict, type(None))

FIELDS: Mapping[str, tuple[type, ...]] = {
    "type": _TEXT,
    "subtype": _TEXT,
    "text": _TEXT,
    "ts": _TEXT,
    "thread_ts": _TEXT,
    "event_ts": _TEXT,
    "channel_type": _TEXT,
    "bot_id": _TEXT,
    "tab": _TEXT,
    "id": _TEXT,
    "team_id": _TEXT,
    "user_id": _TEXT,
    "channel_id": _TEXT,
    "enterprise_id": _TEXT,
    "user_team": _TEXT,
    "app_installed_team_id": _TEXT,
    "function_execution_id": _TEXT,
    "bot_access_token": _TEXT,
    "response_url": _TEXT,
    "command": _TEXT,
    "hidden": _FLAG,
    "is_bot": _FLAG,
    "user": _ID_OR_OBJECT,
    "team": _ID_OR_OBJECT,
    "channel": _ID_OR_OBJECT,
    "enterprise": _ID_OR_OBJECT,
    "event": _OBJECT,
    "message": (dict, type(None)),
    "previous_message": (dict, type(None)),
    "item": (dict, type(None)),
    "assistant_thread": (dict, type(None)),
    "view": _OBJECT,
    "context": (dict, type(None)),
    "authorizations": (list, type(None)),
    "files": (list, type(None)),
    "response_urls": _LIST,
    "actions": _LIST,
}
"""The fields Bolt's request parsing, its middleware and parley's listeners read, with the types Slack sends
(None where the readers take a missing value for it)."""
FILE_FIELDS: Mapping[str, tuple[type, ...]] = {
    "id": _TEXT,
    "name": _TEXT,
    "title": _TEXT,
    "mimetype": _TEXT,
    "mode": _TEXT,
    "url_private": _TEXT,
    "url_private_download": _TEXT,
    "size": _WHOLE,
}
"""What parley reads of each of a message's ``files``."""
INSIDE = frozenset(("event", "message", "previous_message", "item", "assistant_thread", "view", "context",
                    "user", "team", "channel", "enterprise"))  # fmt: skip
"""Objects whose own fields are read the same way (an event's ``message``, a ``team`` object's ``id``...)."""
LISTS_OF_OBJECTS: Mapping[str, Mapping[str, tuple[type, ...]] | None] = {
    "authorizations": FIELDS,
    "files": FILE_FIELDS,
    "response_urls": None,
    "actions": None,
}
"""Lists of objects, and the fields read of each (None: none; an ``actions`` item's ``text`` is an object)."""
NEEDED: Mapping[str, Mapping[str, tuple[type, ...]]] = {
    "message": {"channel": (str,)},
    "app_mention": {"channel": (str,)},
    "assistant_thread_started": {"assistant_thread": _OBJECT},
    "assistant_thread_context_changed": {"assistant_thread": _OBJECT},
}
"""What Bolt's assistant middleware (and, for a message's channel, parley) reads from an event of these types
without looking first."""
THREAD_NEEDS: Mapping[str, tuple[type, ...]] = {"channel_id": (str,), "thread_ts": (str,), "context": _OBJECT}
"""... and from an event's ``assistant_thread``."""


def problem(body: object) -> str | None:
    """What makes a parsed body unfit for Bolt and parley, or None when it has their shape."""
    if not isinstance(body, dict):
        return f"a JSON {type(body).__name__}, not an object"
    return _deep_problem(body) or _field_problem(body, "") or _missing(body.get("event"))


def _deep_problem(body: dict[str, Any]) -> str | None:
    """Too deep, or a string that is not text (a lone surrogate, from a ``\\ud800`` escape, cannot be sent on)."""
    pending: list[tuple[object, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return "a string that is not valid Unicode"
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not _is_text(key):
                    return "a string that is not valid Unicode"
                pending.append((item, depth + 1))
    return None


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _missing(event: object) -> str | None:
    """A field the readers of this event type take for granted, missing or of another type."""
    if not isinstance(event, dict):
        return None
    thread = event.get("assistant_thread")
    needs = [("event.", event, NEEDED.get(event.get("type") or "", {}))]
    needs += [("event.assistant_thread.", thread, THREAD_NEEDS)] if isinstance(thread, dict) else []
    for where, found, needed in needs:
        for name, allowed in needed.items():
            if not isinstance(found.get(name), allowed):
                return f"{where}{name} is missing or a {type(found.get(name)).__name__}"
    return None


def _field_problem(found: Mapping[str, Any], where: str, fields: Mapping[str, tuple[type, ...]] = FIELDS) -> str | None:
    for name, value in found.items():
        allowed = fields.get(name)
        if allowed is None:
            continue
        path = f"{where}{name}"
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            return f"{path} is a {type(value).__name__}"
        inner: list[dict[str, Any]] = []
        inner_fields = FIELDS
        if name in INSIDE and isinstance(value, dict):
            inner = [value]
        elif name in LISTS_OF_OBJECTS and isinstance(value, list):
            objects = [item for item in value if isinstance(item, dict)]
            if len(objects) != len(value):
                return f"{path} holds something other than objects"
            if name == "response_urls" and len(value) > 1:  # Bolt fails logging that it takes the first
                return f"{path} holds more than one"
            if name == "actions" and not where and not value:  # Bolt takes an action payload's first action
                return f"{path} is empty"
            item_fields = LISTS_OF_OBJECTS[name]
            if item_fields is not None:
                inner, inner_fields = objects, item_fields
        for item in inner:
            nested = _field_problem(item, path + ".", inner_fields)
            if nested is not None:
                return nested
    return None
