"""What the Discord ingress writes into a queued job, and what the worker reads back: the ``payload`` JSON.

The ingress (the gateway client) decides on arrival; a worker, in any process, answers later through
Discord's REST API alone. So the payload carries everything the answer needs that a REST call cannot
give cheaply: the plan (where the reply goes, the reply chain's root), the message as the core takes it
(author, prompt text, flags, command style), the thread's title for a new thread (mentions shown as
names, which needs the gateway's objects), where to read earlier context from, the attachments (URL,
name, size, type: downloaded by the worker) and, when routing resolved them and nothing runs before
the message in its conversation, the channel's settings.

``read`` is forgiving: a payload of an older or odd shape raises ``BadPayload``, never a bare KeyError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

from adapters.discord.events import Delivery
from bot.api import Author, ChannelSettings, CommandStyle, IncomingMessage, ThreadKey

Context = Literal["thread", "chain"]
"""Where earlier messages are read from when the core wants them: the thread before the message, or the
reply chain the message answers."""


class BadPayload(ValueError):
    """A job whose payload the worker cannot read (written by another version, or not by the ingress)."""


@dataclass(frozen=True, slots=True)
class FileRef:
    """An attachment as the worker needs it: its CDN URL, and what to decide on before downloading."""

    url: str
    name: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class JobPayload:
    delivery: Delivery
    """new_thread: open a thread from the message; here: answer in its channel; reply: answer in place."""
    guild_id: str | None
    channel_id: str
    """Where the message was written (a channel, a thread or a DM)."""
    message_id: str
    author: Author
    text: str
    """The prompt, as the core takes it (the bot's mention removed; ``@parley reset`` as ``/reset``)."""
    mentioned: bool
    is_dm: bool
    bot_name: str
    """For the command style (``@parley reset``)."""
    received_at: datetime
    root: str | None = None
    """The reply chain's root (delivery "reply")."""
    thread_name: str = "parley"
    """The title of the thread a "new_thread" reply opens."""
    context: Context | None = None
    files: tuple[FileRef, ...] = ()
    settings: ChannelSettings | None = None
    """The channel's settings resolved on arrival; None: the core resolves them when the turn starts."""

    def message(self, thread: ThreadKey) -> IncomingMessage:
        """The message as the core takes it, without its files and earlier context (the worker adds those)."""
        return IncomingMessage(
            thread=thread,
            author=self.author,
            text=self.text,
            event_id=self.message_id,
            mentioned=self.mentioned,
            is_dm=self.is_dm,
            style=CommandStyle(prefix="/parley ", reset=f"@{self.bot_name} reset"),
            received_at=self.received_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "message_id": self.message_id,
            "author": {"id": self.author.id, "name": self.author.name, "is_admin": self.author.is_admin},
            "text": self.text,
            "mentioned": self.mentioned,
            "is_dm": self.is_dm,
            "bot_name": self.bot_name,
            "received_at": self.received_at.isoformat(),
            "root": self.root,
            "thread_name": self.thread_name,
            "context": self.context,
            "files": [{"url": f.url, "name": f.name, "size": f.size, "type": f.media_type} for f in self.files],
            "settings": self.settings.model_dump(mode="json") if self.settings is not None else None,
        }


def read(data: Mapping[str, Any]) -> JobPayload:
    """The payload a Discord ingress wrote; ``BadPayload`` says what is wrong with any other."""
    try:
        delivery = data["delivery"]
        if delivery not in get_args(Delivery):
            raise BadPayload(f"unknown delivery {delivery!r}")
        context = data.get("context")
        if context is not None and context not in get_args(Context):
            raise BadPayload(f"unknown context {context!r}")
        author = data["author"]
        settings = data.get("settings")
        return JobPayload(
            delivery=cast(Delivery, delivery),
            guild_id=_optional(data.get("guild_id")),
            channel_id=_snowflake(data["channel_id"]),
            message_id=_snowflake(data["message_id"]),
            author=Author(str(author["id"]), str(author["name"]), is_admin=author["is_admin"] is True),
            text=str(data["text"]),
            mentioned=data["mentioned"] is True,
            is_dm=data["is_dm"] is True,
            bot_name=str(data["bot_name"]),
            received_at=datetime.fromisoformat(str(data["received_at"])),
            root=_optional(data.get("root")),
            thread_name=str(data.get("thread_name") or "parley"),
            context=cast(Context | None, context),
            files=tuple(
                FileRef(str(f["url"]), str(f["name"]), int(f["size"]), str(f["type"])) for f in data.get("files", [])
            ),
            settings=ChannelSettings.model_validate(settings) if settings is not None else None,
        )
    except BadPayload:
        raise
    except (KeyError, TypeError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        raise BadPayload(f"not a Discord job's payload ({error.__class__.__name__}: {error})") from None


def _snowflake(value: object) -> str:
    text = str(value)
    if not text.isascii() or not text.isdigit():
        raise BadPayload(f"{text!r} is not a Discord id")
    return text


def _optional(value: object) -> str | None:
    return None if value is None else _snowflake(value)
