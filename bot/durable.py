"""``Turn`` for a queued job: ``Conversation.handle`` with the job's reply ledger.

What the reply posts is recorded as it is created, and an earlier attempt's messages are edited
instead of posted again. A turn that could not be stored raises (the job stays queued and is answered
again, replacing the same messages); it is never shown to the user as an error after a complete answer.
How the turn ended is kept (``end``) for the worker to count once the job is finished.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ledger import ReplyLedger
from bot.messages import IncomingMessage
from bot.metrics import TurnEnd
from bot.settings import ChannelSettings
from bot.sink import ReplySink

if TYPE_CHECKING:
    from bot.conversation import Conversation


class JobTurn:
    def __init__(self, conversation: Conversation, ledger: ReplyLedger) -> None:
        self._conversation = conversation
        self._ledger = ledger
        self.end = TurnEnd("ignored")
        """How the turn ended: "ignored" until the handler has it answered (a job it finds nothing to answer in)."""

    async def answer(self, message: IncomingMessage, sink: ReplySink, settings: ChannelSettings | None = None) -> None:
        try:
            self.end = await self._conversation.handle(message, sink, settings, self._ledger)
        except BaseException:  # a handler that ends the job anyway (a refusal it apologised for) ended it failed
            self.end = TurnEnd("failed")
            raise
