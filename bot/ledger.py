"""The reply ledger of a queued job: the messages its reply posts, recorded as they are created.

A job whose worker died is answered again by another; the ledger hands that attempt the ids the
earlier one posted, and its first posts become edits of those, so the thread ends with one reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.sink import CompleteSink, ReplySink

log = logging.getLogger(__name__)


async def post_new(sink: ReplySink, text: str, *, complete: bool = False) -> str:
    """Post a new message (complete as it is, through ``CompleteSink.post_complete``, when the sink has it)."""
    if complete and isinstance(sink, CompleteSink):
        message_id = await sink.post_complete(text)
    else:
        message_id = await sink.post(text)
    log.info("reply posted: message %s", message_id)
    return message_id


class ReplyLedger:
    def __init__(
        self, earlier: Sequence[str], record: Callable[[str], Awaitable[None]], *, retrying: bool = False
    ) -> None:
        self._earlier = list(dict.fromkeys(earlier))  # a record resent after a lost reply is listed once
        self._record = record
        self.retrying = retrying
        """An attempt after the first (its message was already counted against the rate limits)."""

    async def post(self, sink: ReplySink, text: str, *, complete: bool = False) -> str:
        """A message of the reply: an earlier attempt's next message edited to ``text``, or a new one, recorded."""
        while self._earlier:
            message_id = self._earlier.pop(0)
            try:
                await sink.edit(message_id, text)
                log.info("reply edited: message %s, an earlier attempt's", message_id)
                return message_id
            except Exception as error:  # gone from the platform, say: the reply goes on in a new message
                log.warning("could not edit %s, an earlier attempt's message: %s", message_id, error)
        message_id = await post_new(sink, text, complete=complete)
        await self._record(message_id)
        return message_id


async def say(sink: ReplySink, text: str, ledger: ReplyLedger | None) -> str:
    """Post one complete message of a turn (a notice, a command's answer: no edit follows; a ``CompleteSink``
    posts it so): through the ledger when the turn has one."""
    if ledger is not None:
        return await ledger.post(sink, text, complete=True)
    return await post_new(sink, text, complete=True)
