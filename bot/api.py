"""The core's one face: everything an adapter, or the ``parley`` command that wires them, uses from ``bot/``.

Adapters (``adapters/``) import from this module only; a test holds them to it.

For a platform adapter:

- ``Conversation.receive(message, sink, settings=None)``: hand the core one ``IncomingMessage``
  and the ``ReplySink`` that answers in its thread. It dedups, orders, decides, answers and
  remembers; it never raises. Pass the channel's ``ChannelSettings`` when the adapter resolved
  them already (they are then not resolved again).
- ``Conversation.run_command(command, thread, author, style)``: a slash command's answer.
- ``Conversation.context_wanted(thread, settings=None)``: how many of a thread's earlier messages to read
  from the platform (0: none) and hand over on ``IncomingMessage.prior`` (``PriorMessage``: author's
  display name, text), when parley is addressed in a thread; ``Conversation.note(message)``: a thread
  message parley is not asked to answer, kept for its next answer there.
- Files: ``IncomingMessage.files`` (``Attachment``: name, media type, size, the content or why the adapter
  could not fetch it); ``worth_fetching(name, media_type, size, conversation.config.files)`` says which to
  download at all (``FilesConfig``: the ``[files]`` caps). The core reads them and notes the rest.
- ``Conversation.settings_for(channel)``: a channel's settings in effect.
- ``Conversation.state(namespace)``: the adapter's own key-value store in Redis (``Namespace``:
  JSON values with a TTL, delete, claim-once); the adapter names its keys, the core prefixes them.
- ``Conversation.admin``: what the web console asks (``Admin``: channels seen or named by a rule,
  settings with sources as form values, checking and saving a settings form as ``/set`` does, a
  playground turn with unsaved settings, recent threads and their history, forgetting one, the
  audit of settings changes, usage by day, the backends without their keys).
- ``Conversation.desk``: the helpdesk (``Desk``): a vote on an answer (``vote``, ``explain`` after a 👎),
  a "Talk to a person" button (``hand_off_thread``: the ``HandOff`` notice to post), a thread marked
  resolved (``take_back``); a sink that serves helpdesk channels implements ``DeskSink``.
- ``Conversation.metrics``: this process's Prometheus counters (``Metrics``): an adapter counts its calls to the
  platform's API (``platform_call``); ``/metrics`` serves ``refresh(conversation.queue)`` then ``render()``.
- ``Conversation.has_history(thread)``, ``Conversation.ping()``, and ``Conversation.config``
  (``table(...)`` for the adapter's own config table, ``history``, ``dedup_seconds``, ``is_admin``).
- The durable queue (``bot/jobs.py``): an ingress calls ``Conversation.enqueue(thread, event_id, payload)``
  (False: a redelivery; ``QueueUnavailable``: not stored, do not acknowledge the platform) inside
  ``with traced():`` (``bot/trace.py``: the message's trace, kept with it in the queue); a worker side
  is a ``JobHandler`` that answers a ``Job`` through ``Turn.answer``; ``Conversation.worker(handlers,
  consumer)`` is a ``Worker`` whose ``run(stop)`` answers queued jobs; ``GAVE_UP`` is the dead-letter notice.
- Types: ``IncomingMessage``, ``Author``, ``CommandStyle``, ``ThreadKey``, ``ChannelKey``,
  ``ReplySink`` with ``SinkLimits`` and the optional ``StatusSink`` and ``PacedSink``, ``ChannelSettings``.
- Rate budgets for a sink's writes, shared by the replies in one channel: ``Pace`` (what one reply takes
  from), ``PaceBook`` (token buckets by name), ``rate_of`` (``edit_interval`` as a rate).
  ``Conversation.pace_book()`` is a ``PaceBook`` whose buckets every process on the same Redis shares.
- Texts: ``SOMETHING_BROKE`` (the apology when the core cannot be reached), ``HELP`` and
  ``SETTING_KEYS`` (for a platform's command menus), ``split`` (a long text in platform-sized parts).

For the composition root (``adapters/cli.py``, ``adapters/run.py``, ``adapters/config.py``): loading
and checking the configuration (``Config.with_tables`` adds each adapter's ``AdapterTable``), logging
with secrets masked, opening the core (``open_conversation``), checking backends, and the command
line's admin commands (``open_commands``: beside a running parley, on its Redis), the queue's
(``open_queue``: its status, dead letters, retrying one), the knowledge sources' (``open_knowledge``:
``parley kb index`` and ``parley kb search``) and the helpdesk's (``open_desk``: ``parley feedback export``).
"""

from __future__ import annotations

from bot.admin import Admin, BackendInfo, ChannelInfo, DayUsage, Edited, SettingRow
from bot.attachments import worth_fetching
from bot.audit import AuditEntry
from bot.commands import HELP, Command
from bot.config import NO_BACKEND_HELP, AdapterTable, Config, FilesConfig, find_config_file, load_config
from bot.config_errors import ConfigError
from bot.conversation import Conversation
from bot.desk import Desk, HandOff, Voted
from bot.jobs import Job, JobHandler, QueueUnavailable, Turn
from bot.keyvalue import Namespace
from bot.knowledge.commands import open_knowledge
from bot.llm.check import check_backends
from bot.logs import LOG_FORMATS, MASK, RedactSecrets, setup_logging
from bot.messages import Attachment, Author, ChatMessage, CommandStyle, IncomingMessage, PriorMessage
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.metrics import Metrics
from bot.notices import GAVE_UP, SOMETHING_BROKE
from bot.pacing import Pace, PaceBook, rate_of
from bot.runtime import open_commands, open_conversation, open_desk, open_queue
from bot.settings import KEYS as SETTING_KEYS
from bot.settings import ChannelSettings, ReplyMode
from bot.sink import DeskSink, PacedSink, ReplySink, SinkLimits, StatusSink
from bot.split import split
from bot.threads import ChannelKey, ThreadKey
from bot.trace import traced
from bot.usage import parse_day
from bot.worker import Worker

__all__ = [
    "GAVE_UP",
    "HELP",
    "LOG_FORMATS",
    "MASK",
    "METRICS_CONTENT_TYPE",
    "NO_BACKEND_HELP",
    "SETTING_KEYS",
    "SOMETHING_BROKE",
    "AdapterTable",
    "Admin",
    "Attachment",
    "AuditEntry",
    "Author",
    "BackendInfo",
    "ChannelInfo",
    "ChannelKey",
    "ChannelSettings",
    "ChatMessage",
    "Command",
    "CommandStyle",
    "Config",
    "ConfigError",
    "Conversation",
    "DayUsage",
    "Desk",
    "DeskSink",
    "Edited",
    "FilesConfig",
    "HandOff",
    "IncomingMessage",
    "Job",
    "JobHandler",
    "Metrics",
    "Namespace",
    "Pace",
    "PaceBook",
    "PacedSink",
    "PriorMessage",
    "QueueUnavailable",
    "RedactSecrets",
    "ReplyMode",
    "ReplySink",
    "SettingRow",
    "SinkLimits",
    "StatusSink",
    "ThreadKey",
    "Turn",
    "Voted",
    "Worker",
    "check_backends",
    "find_config_file",
    "load_config",
    "open_commands",
    "open_conversation",
    "open_desk",
    "open_knowledge",
    "open_queue",
    "parse_day",
    "rate_of",
    "setup_logging",
    "split",
    "traced",
    "worth_fetching",
]
