"""What parley takes from Discord's gateway: an event it cannot read costs that event, not the bot.

discord.py turns each gateway dispatch into objects in a parser (``ConnectionState.parse_*``) that its
websocket loop calls directly: an exception there would end ``Client.connect``, and with it the adapter.
Discord sends well-formed events, but a payload of another shape (a field missing or of another type,
after a change on Discord's side, or from a proxy in between) must neither stop parley nor be answered.

``guard`` wraps every parser: an event whose parser raises is logged at WARNING and dropped. A message
(MESSAGE_CREATE) is first checked for the fields parley reads (``message_problem``): discord.py leaves
an attribute unset when its field is missing, which would only fail later, in the middle of an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

Parser = Callable[[Any], None]
SHOWN_CHARS = 200
"""How much of an error's text the warning shows (a payload can be large)."""
MAX_SNOWFLAKE = 2**64
APPLICATION_COMMAND = 2
"""The interaction type of a slash command (and of a context menu's command)."""
MESSAGE_COMPONENT, MODAL_SUBMIT = 3, 5
"""A click on a button parley put on a helpdesk answer; the form parley asked for after a 👎."""
OWN_PREFIX = "parley:"
"""The custom ids of parley's buttons and forms (``adapters/discord/desk.py``)."""
SUBCOMMANDS = (1, 2)
"""The option types of a subcommand and a subcommand group (the others carry a value)."""


def guard(client: discord.Client, tree: app_commands.CommandTree[discord.Client]) -> None:
    """Make every gateway parser of ``client`` drop the event it cannot read, and ``tree`` log a command
    parley does not have (in that form) as a warning (call before connecting)."""
    parsers = client._connection.parsers
    for event, parser in list(parsers.items()):
        parsers[event] = _guarded(event, parser)
    parsers["MESSAGE_CREATE"] = _checked("MESSAGE_CREATE", client, parsers["MESSAGE_CREATE"], message_problem)
    parsers["INTERACTION_CREATE"] = _checked(
        "INTERACTION_CREATE", client, parsers["INTERACTION_CREATE"], interaction_problem
    )

    async def on_error(interaction: discord.Interaction[discord.Client], error: app_commands.AppCommandError) -> None:
        if isinstance(error, NOT_OURS):  # a stale command list on Discord's side, or a forged interaction
            log.warning("ignored a command parley does not have in this form: %s", str(error)[:SHOWN_CHARS])
            return
        await app_commands.CommandTree.on_error(tree, interaction, error)  # discord.py's: the traceback, at ERROR

    tree.error(on_error)


NOT_OURS = (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch, app_commands.TransformerError)
"""What discord.py's command tree raises for a command that does not match parley's."""


def _guarded(event: str, parser: Parser) -> Parser:
    def parse(data: Any) -> None:
        try:
            parser(data)
        except Exception as error:  # discord.py raises what the payload's shape causes: KeyError, TypeError...
            kind, shown = type(error).__name__, str(error)[:SHOWN_CHARS]
            log.warning("ignored a %s event from Discord that discord.py cannot read (%s: %s)", event, kind, shown)
            log.debug("the %s event that could not be read", event, exc_info=True)

    return parse


def _checked(event: str, client: discord.Client, parser: Parser, problem_of: Callable[[object], str | None]) -> Parser:
    def parse(data: Any) -> None:
        problem = problem_of(data) or _out_of_place(client, data)
        if problem is not None:
            log.warning("ignored a %s event from Discord that parley cannot read: %s", event, problem)
            return
        parser(data)

    return parse


def _out_of_place(client: discord.Client, data: Mapping[str, Any]) -> str | None:
    """An event that names a server parley is not in, or has no server but is in a server's channel."""
    guild_id = data.get("guild_id")
    if guild_id is not None:
        return None if client.get_guild(int(guild_id)) is not None else "a server parley is not in"
    channel_id = data.get("channel_id")
    channel = client.get_channel(int(channel_id)) if channel_id is not None else None
    if channel is not None and not isinstance(channel, discord.DMChannel | discord.GroupChannel):
        return "no server, but the channel is a server's"
    return None


def message_problem(data: object) -> str | None:
    """Why a MESSAGE_CREATE payload is not a message as Discord sends it (as far as parley reads it), or None."""
    if not isinstance(data, dict):
        return f"a {type(data).__name__}, not an object"
    problem = _fields(data, {"id": _snowflake, "channel_id": _snowflake, "content": _text, "type": _integer})
    problem = problem or _fields(data, {"author": _user, "mentions": _list_of(_user), "mention_roles": _snowflakes})
    problem = problem or _fields(data, {"attachments": _list_of(_attachment)})
    problem = problem or _optional(data, {"guild_id": _snowflake, "member": _member, "message_reference": _reference})
    if problem is None and data.get("referenced_message") is not None:
        inner = message_problem(data["referenced_message"])
        problem = f"referenced_message: {inner}" if inner is not None else None
    return problem


def interaction_problem(data: object) -> str | None:
    """Why an INTERACTION_CREATE payload is not one parley offers, as Discord sends it, or None.

    parley offers slash commands, its helpdesk buttons and the form after a 👎 (no menus, other buttons or
    forms, autocompletion or context menus)."""
    if not isinstance(data, dict):
        return f"a {type(data).__name__}, not an object"
    problem = _fields(data, {"id": _snowflake, "application_id": _snowflake, "type": _integer, "token": _text})
    problem = problem or _fields(data, {"version": _integer, "attachment_size_limit": _integer})
    problem = problem or _optional(data, {"guild_id": _snowflake, "channel_id": _snowflake, "channel": _channel})
    if problem is None:
        problem = _fields(data, {"member": _member_with_user} if data.get("guild_id") is not None else {"user": _user})
    if problem is not None:
        return problem
    if data["type"] == APPLICATION_COMMAND:
        return _fields(data, {"data": _command})
    if data["type"] == MESSAGE_COMPONENT:
        return _fields(data, {"data": _component}) or _fields(data, {"message": message_problem})
    if data["type"] == MODAL_SUBMIT:
        return _fields(data, {"data": _form})
    return f"an interaction of type {data['type']}, which parley does not offer"


Check = Callable[[Any], str | None]


def _fields(data: Mapping[str, Any], checks: Mapping[str, Check]) -> str | None:
    for key, check in checks.items():
        if key not in data:
            return f"{key} is missing"
        problem = check(data[key])
        if problem is not None:
            return f"{key}: {problem}"
    return None


def _optional(data: Mapping[str, Any], checks: Mapping[str, Check]) -> str | None:
    """The fields present, checked (null only where the check allows it: discord.py reads most with ``get``)."""
    return _fields(data, {key: check for key, check in checks.items() if key in data})


def _snowflake(value: Any) -> str | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) < MAX_SNOWFLAKE:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_SNOWFLAKE:
        return None
    return "not an id"


def _digits(value: Any) -> str | None:
    return None if isinstance(value, str) and value.isascii() and value.isdigit() else "not a number in text"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "not text"


def _integer(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "not a number"


def _chat_input(value: Any) -> str | None:
    return None if value == 1 and not isinstance(value, bool) else "not a slash command (a context menu?)"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "not true or false"


def _list_of(check: Check) -> Check:
    def checked(value: Any) -> str | None:
        if not isinstance(value, list):
            return "not a list"
        return next((f"[{n}] {problem}" for n, item in enumerate(value) if (problem := check(item))), None)

    return checked


_snowflakes = _list_of(_snowflake)


def _object(required: Mapping[str, Check], optional: Mapping[str, Check]) -> Check:
    def checked(value: Any) -> str | None:
        if not isinstance(value, dict):
            return "not an object"
        return _fields(value, required) or _optional(value, optional)

    return checked


def _text_or_none(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "not text"


# What discord.py needs of each (it reads these with [], and it skips a user or member it cannot read silently).
_user = _object(
    {"id": _snowflake, "username": _text, "discriminator": _text, "avatar": _text_or_none},
    {"global_name": _text_or_none, "bot": _flag},
)
_member = _object({"roles": _snowflakes, "flags": _integer}, {"nick": _text_or_none})
_attachment = _object(
    {"id": _snowflake, "filename": _text, "size": _integer, "url": _text, "proxy_url": _text},
    {"content_type": _text_or_none},
)
_reference = _object({"channel_id": _snowflake}, {"message_id": _snowflake, "guild_id": _snowflake})
_member_with_user = _object(
    {"user": _user, "roles": _snowflakes, "flags": _integer}, {"nick": _text_or_none, "permissions": _digits}
)
_channel = _object({"id": _snowflake, "type": _integer}, {})


def _option(value: Any) -> str | None:
    """A command's option: a subcommand (group) with options of its own, or a value."""
    problem = _object({"name": _text, "type": _integer}, {"options": _list_of(_option)})(value)
    if problem is None and value["type"] not in SUBCOMMANDS:
        problem = _fields(value, {"value": _scalar})
    return problem


def _scalar(value: Any) -> str | None:
    return None if isinstance(value, str | int | float) else "not text, a number or true/false"


def _own_id(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(OWN_PREFIX):
        return None
    return "not one of parley's buttons or forms"


_component = _object({"custom_id": _own_id, "component_type": _integer}, {})
_form = _object({"custom_id": _own_id, "components": _list_of(_object({}, {}))}, {})
_command = _object(
    {"id": _snowflake, "name": _text},
    {"type": _chat_input, "options": _list_of(_option), "guild_id": _snowflake, "resolved": _object({}, {})},
)
