"""A thread's messages that parley was not asked to answer, as the model reads them: pure logic, no I/O.

When parley is first addressed in a thread that already has messages, the adapter reads them once
(``Conversation.context_wanted`` says how many) and hands them over on ``IncomingMessage.prior``;
messages written later while parley was not addressed reach the core from the events the adapter
receives anyway. parley's own messages are not among them (its answers are in the history already;
a notice it posted is no context). Each is kept in the thread's history as a message of its own, its author's name
in front, so the prompt's budget keeps the newest and a running summary can fold the oldest.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import ChatMessage, PriorMessage

SOMEONE = "someone"
"""The author's name when the platform gave none."""


def attributed(author: str, text: str) -> str:
    """A message as the model reads it in the thread: ``Alice: the deploy failed``."""
    return f"{author.strip() or SOMEONE}: {text.strip()}"


def prior_history(prior: Sequence[PriorMessage], limit: int) -> list[ChatMessage]:
    """The newest ``limit`` earlier messages that have text, oldest first, as history messages."""
    kept = [message for message in prior if message.text.strip()][-limit:] if limit > 0 else []
    return [ChatMessage("user", attributed(message.author, message.text)) for message in kept]
