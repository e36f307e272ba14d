"""One reply streamed into the sink: the model's answer (or the notice saying why there is none), and how it
ended for ``/metrics``.

The notes on files the turn did not read go first, then a summary fold when the channel wants one, the
answer of the first backend that gives one (``Responder.run``), and the ``footer`` (a grounded answer's
sources). What was shown, where and when, is kept for the helpdesk and for the reply's times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering import Answer, ReplyFailed, Responder
from bot.desk import Shown
from bot.ledger import ReplyLedger
from bot.messages import CommandStyle
from bot.metrics import TurnEnd
from bot.notices import failure_text, too_long_text
from bot.outcome import turn_failed
from bot.prompt import Prompt, PromptTooLong
from bot.sink import ReplySink
from bot.store import Store
from bot.streaming import ReplyStreamer
from bot.summary import SummaryFold
from bot.usage import ReplyCost, add

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Replied:
    answer: Answer | None
    """None: no answer (the user was told why)."""
    summary_fold: SummaryFold | None
    """The summary fold made for this reply, if any (its tokens count even without an answer)."""
    shown: Shown
    finished_at: float | None = None
    """When the answer was complete in the thread (epoch seconds)."""

    def end(self, started: float) -> TurnEnd:
        """How the turn that began at ``started`` (epoch seconds) ended: answered, with its times, or failed."""
        if self.answer is None or self.finished_at is None:
            return TurnEnd("failed")
        first_text_at = self.shown.first_text_at
        first_text = None if first_text_at is None else max(0.0, first_text_at - started)
        return TurnEnd("answered", self.answer.backend, max(0.0, self.finished_at - started), first_text)


async def stream_reply(
    store: Store,
    responder: Responder,
    prompt: Prompt,
    sink: ReplySink,
    style: CommandStyle,
    notes: Sequence[str] = (),
    footer: str = "",
    ledger: ReplyLedger | None = None,
) -> Replied:
    """Stream the answer into the sink (or tell why there is none), after the notes on files it did not read
    and before the ``footer`` (the sources of a grounded answer)."""
    streamer = ReplyStreamer(sink, ledger=ledger)
    await streamer.start()
    if notes:
        await streamer.feed("\n".join(notes) + "\n\n")
    summary_fold: SummaryFold | None = None
    try:
        summary_fold = await responder.fold_summary(store, prompt)
        if summary_fold is not None:
            prompt = responder.first_prompt()
        answer = await responder.run(streamer, prompt)
        if footer:
            await streamer.feed(footer)
        await streamer.finish()
        return Replied(answer, summary_fold, Shown(streamer.message_id, streamer.first_text_at), time.time())
    except PromptTooLong as error:
        turn_failed(sink)
        await streamer.fail(style.phrase(too_long_text(error)))
    except ReplyFailed as failed:
        log.warning("%s: backend %s failed: %s", responder.thread, failed.target, failed.error)
        turn_failed(sink)
        await streamer.fail(style.phrase(failure_text(failed.error, failed.model)))
    finally:
        await streamer.aclose()
    return Replied(None, summary_fold, Shown(streamer.message_id, streamer.first_text_at))


def cost_of(answer: Answer | None, summary_fold: SummaryFold | None) -> ReplyCost | None:
    """The turn's tokens for the day's usage, once: the answer's and the summary call's (which counts even if no
    answer came); None when no model was called."""
    if answer is not None:
        usage = add(answer.usage, summary_fold.usage if summary_fold else None)
        return ReplyCost(usage, answer.fallback, answer.capped)
    if summary_fold is not None:
        return ReplyCost(summary_fold.usage, answered=False)
    return None
