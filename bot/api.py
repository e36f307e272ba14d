"""The core's one face: everything an adapter, or the ``parley`` command that wires them, uses from ``bot/``.

Adapters (``adapters/``) import from this module only; a test holds them to it.

For a platform adapter:

- ``Conversation.receive(message, sink, settings=None)``: hand the core one ``IncomingMessage``
  and the ``ReplySink`` that answers in its thread. It dedups, orders, decides, answers and
  remembers; it never raises. Pass the channel's ``ChannelSettings`` when the adapter resolved
  them already (they are then not resolved again).
- ``Conversation.run_command(command, thread, author, style)``: a slash command's answer.
- ``Conversation.settings_for(channel)``: a channel's settings in effect.
- ``Conversation.state(namespace)``: the adapter's own key-value store in Redis (``Namespace``:
  JSON values with a TTL, delete, claim-once); the adapter names its keys, the core prefixes them.
- ``Conversation.has_history(thread)``, ``Conversation.ping()``, and ``Conversation.config``
  (``table(...)`` for the adapter's own config table, ``history``, ``dedup_seconds``, ``is_admin``).
- Types: ``IncomingMessage``, ``Author``, ``CommandStyle``, ``ThreadKey``, ``ChannelKey``,
  ``ReplySink`` with ``SinkLimits`` and the optional ``StatusSink``, ``ChannelSettings``.
- Texts: ``SOMETHING_BROKE`` (the apology when the core cannot be reached), ``HELP`` and
  ``SETTING_KEYS`` (for a platform's command menus), ``split`` (a long text in platform-sized parts).

For the composition root (``adapters/cli.py``, ``adapters/run.py``): loading and checking the
configuration, logging with secrets masked, opening the core, checking backends, and the admin
commands of the command line.
"""

from __future__ import annotations

from bot.channels import Channels
from bot.commands import HELP, Command, Commands, parse_command
from bot.config import NO_BACKEND_HELP, AdapterTable, Config, find_config_file, load_config
from bot.config_errors import ConfigError
from bot.conversation import Conversation
from bot.keyvalue import Namespace
from bot.llm.check import check_backends
from bot.logs import MASK, RedactSecrets, setup_logging
from bot.messages import TERMINAL_STYLE, Author, CommandStyle, IncomingMessage
from bot.notices import SOMETHING_BROKE
from bot.runtime import open_conversation, open_store
from bot.settings import KEYS as SETTING_KEYS
from bot.settings import ChannelSettings, ReplyMode
from bot.sink import ReplySink, SinkLimits, StatusSink
from bot.split import split
from bot.threads import ChannelKey, ThreadKey
from bot.usage import UsageBook, parse_day

__all__ = [
    "HELP",
    "MASK",
    "NO_BACKEND_HELP",
    "SETTING_KEYS",
    "SOMETHING_BROKE",
    "TERMINAL_STYLE",
    "AdapterTable",
    "Author",
    "ChannelKey",
    "ChannelSettings",
    "Channels",
    "Command",
    "CommandStyle",
    "Commands",
    "Config",
    "ConfigError",
    "Conversation",
    "IncomingMessage",
    "Namespace",
    "RedactSecrets",
    "ReplyMode",
    "ReplySink",
    "SinkLimits",
    "StatusSink",
    "ThreadKey",
    "UsageBook",
    "check_backends",
    "find_config_file",
    "load_config",
    "open_conversation",
    "open_store",
    "parse_command",
    "parse_day",
    "setup_logging",
    "split",
]
