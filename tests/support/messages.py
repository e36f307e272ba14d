"""Incoming messages as the core tests send them, and the roles of a request the fake LLM received."""

from __future__ import annotations

import uuid

from bot.messages import Author, IncomingMessage
from bot.threads import ThreadKey

THREAD = ThreadKey("test", "W1", "C1", "t1")


def msg(
    text: str,
    *,
    thread: ThreadKey = THREAD,
    event: str | None = None,
    mentioned: bool = True,
    is_dm: bool = False,
    admin: bool = True,
    user: str = "U1",
) -> IncomingMessage:
    return IncomingMessage(
        thread, Author(user, "User", is_admin=admin), text, event or uuid.uuid4().hex, mentioned, is_dm
    )


def roles(request: dict[str, object]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request["messages"]]  # type: ignore[index, attr-defined]
