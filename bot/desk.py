"""The helpdesk: feedback on answers, hand-off to a person, and the desk's daily numbers.

A channel is a helpdesk when its ``oncall`` setting names who a hand-off calls in (a user group
or role, as the platform writes its mention), or when it answers from ``knowledge``. There each
answer carries 👍 / 👎 and "Talk to a person" (a ``DeskSink`` shows them), a message asking for a
person (``[helpdesk] handoff_phrases``) hands the thread over, and a handed-off thread gets no answers until someone
says ``resume`` to the bot there or marks it resolved. Votes count once per person and answer.
"""

from __future__ import annotations

import logging
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.config import Config
from bot.desk_store import DeskStore
from bot.messages import Author, CommandStyle, IncomingMessage
from bot.metrics import Metrics
from bot.settings import ChannelSettings
from bot.sink import DeskSink, ReplySink
from bot.threads import ChannelKey, ThreadKey
from bot.usage import USAGE_TTL_DAYS, Clock, day_of, utc_now

log = logging.getLogger(__name__)

Vote = Literal["up", "down"]
RESUME_WORDS = ("resume", "/resume")
KEPT_SECONDS = USAGE_TTL_DAYS * 86400
"""How long answers, votes and the desk's counts are kept (as long as token usage)."""


@dataclass(frozen=True, slots=True)
class HandOff:
    """A hand-off notice: ``text`` names ``group`` (the one mention the platform must let ping)."""

    text: str
    group: str | None


@dataclass(frozen=True, slots=True)
class Shown:
    """Where a reply was written (its last message) and when its first text showed (epoch seconds)."""

    message_id: str | None
    first_text_at: float | None


@dataclass(frozen=True, slots=True)
class Voted:
    counted: bool
    """False: this person had voted on this answer already (or the answer is not known any more)."""
    text: str
    """What to tell the voter (ephemerally)."""


def is_helpdesk(settings: ChannelSettings) -> bool:
    """A channel with someone to call in, or with documents to answer from."""
    return bool(settings.oncall or settings.knowledge)


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def asks_for_person(text: str, phrases: Sequence[str]) -> bool:
    """Whether a message asks for a person (one of the configured phrases, anywhere in it)."""
    said = normalized(text)
    return any(normalized(phrase) in said for phrase in phrases if phrase.strip())


def handoff_text(group: str | None, asker: str, style: CommandStyle) -> str:
    resume = style.phrase("/resume")
    who = f"{asker} asked" if asker else "Someone asked"
    calling = f"{group}: " if group else ""
    return (
        f"{calling}{who} for a person to help in this thread. The conversation so far is above. "
        f"I won't answer here until someone says {resume} or marks the thread resolved (✅)."
    )


ALREADY_HANDED_OFF = "This thread is already with a person; I'll stay quiet here."
TAKEN_BACK = "I'm answering in this thread again."
NOT_HANDED_OFF = "This thread was not handed off; I'm answering here as usual."
THANKS_UP = "Thanks for the feedback!"
THANKS_DOWN = "Thanks for the feedback. What was wrong with the answer? Your reply helps improve it."
ALREADY_VOTED = "You already gave feedback on this answer."
UNKNOWN_ANSWER = "That answer is too old to take feedback on."


def median_seconds(milliseconds: Sequence[int]) -> float | None:
    return statistics.median(milliseconds) / 1000 if milliseconds else None


def desk_report(totals: Mapping[str, int], first_text_ms: Sequence[int]) -> list[str]:
    """The desk's lines of ``/usage`` (none when the channel had no helpdesk activity that day)."""
    if not totals and not first_text_ms:
        return []
    get = totals.get
    up, down = get("up", 0), get("down", 0)
    rate = f", {round(100 * up / (up + down))}% 👍" if up + down else ""
    median = median_seconds(first_text_ms)
    lines = [
        "Helpdesk:",
        f"  {get('questions', 0)} questions: {max(0, get('answered', 0))} answered without a hand-off, "
        f"{get('handoffs', 0)} handed to a person",
        f"  feedback: {up} 👍, {down} 👎{rate}",
    ]
    if median is not None:
        lines.append(f"  median time to first text: {median:.1f} s")
    return lines


class Desk:
    """What the core and the adapters ask of the helpdesk (``Conversation.desk``)."""

    def __init__(
        self,
        config: Config,
        store: DeskStore,
        settings_for: Callable[[ChannelKey], Awaitable[ChannelSettings]],
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._settings_for = settings_for
        self._clock = clock
        self._metrics = metrics or Metrics()
        """Questions, hand-offs and votes for ``/metrics`` (the numbers of ``/usage``, with no channel)."""

    async def intercept(self, message: IncomingMessage, settings: ChannelSettings, sink: ReplySink) -> bool:
        """Before a message the core would answer: whether the desk took it instead (its thread is with a person,
        it asks for one, or it says ``resume``), so the model is not called."""
        thread = message.thread
        if self.says_resume(message):
            if await self.take_back(thread):
                await sink.post(TAKEN_BACK)
                return True
            if is_helpdesk(settings):
                await sink.post(NOT_HANDED_OFF)
                return True
            return False
        if not is_helpdesk(settings):
            return False
        if await self.handed_off(thread):
            return True
        if not self.asks_for_person(message):
            return False
        handoff = await self.hand_off(thread, message.author, settings, message.style, question=True)
        if handoff is None:
            await sink.post(ALREADY_HANDED_OFF)
        elif isinstance(sink, DeskSink):
            await sink.hand_off(handoff.text, handoff.group)
        else:
            await sink.post(handoff.text)
        return True

    async def hand_off_thread(self, thread: ThreadKey, asker: Author, style: CommandStyle) -> HandOff | None:
        """A "Talk to a person" button: the notice to post (None: the thread is with a person already)."""
        settings = await self._settings_for(thread.channel_key)
        return await self.hand_off(thread, asker, settings, style, question=False)

    def _today(self) -> str:
        return day_of(self._clock())

    async def handed_off(self, thread: ThreadKey) -> bool:
        return await self._store.handed_off(thread)

    def asks_for_person(self, message: IncomingMessage) -> bool:
        return asks_for_person(message.text, self._config.helpdesk.handoff_phrases)

    @staticmethod
    def says_resume(message: IncomingMessage) -> bool:
        return message.text.strip().lower().rstrip(".!") in RESUME_WORDS

    async def hand_off(
        self, thread: ThreadKey, asker: Author, settings: ChannelSettings, style: CommandStyle, *, question: bool
    ) -> HandOff | None:
        """Hand the thread to a person; None when it is with one already. ``question``: the hand-off is the
        answer to a message (a phrase), so it counts as a question of the day."""
        record = {"by": asker.id, "name": asker.name, "at": self._clock().timestamp()}
        if not await self._store.hand_off(thread, record, self._config.history.ttl_seconds):
            return None
        # A hand-off by the button follows an answer counted as answered without one: it no longer is.
        counts = {"handoffs": 1, "questions": 1} if question else {"handoffs": 1, "answered": -1}
        await self._store.count(self._today(), thread.channel_key, counts, KEPT_SECONDS, None)
        self._metrics.desk_handoff()
        if question:
            self._metrics.desk_question()
        return HandOff(handoff_text(settings.oncall, asker.name, style), settings.oncall)

    async def take_back(self, thread: ThreadKey) -> bool:
        return await self._store.take_back(thread)

    async def answered(
        self,
        message: IncomingMessage,
        settings: ChannelSettings,
        sink: ReplySink,
        answer: str,
        shown: Shown,
        sources: Sequence[str] = (),
        *,
        knew: bool = True,
    ) -> None:
        """An answer in a helpdesk channel: its last message gets the buttons (a ``DeskSink``: 👍 / 👎 and
        "Talk to a person"), and it is kept for the votes and counted, once (a job answered again, its reply
        edited, is not counted twice). ``knew``: False for "I don't know" (a question, not answered).
        Never raises: the answer is shown and stored already, a failure here is no reason to answer again."""
        try:
            reply_id = shown.message_id
            if reply_id is not None and isinstance(sink, DeskSink):
                reply_id = await sink.offer_feedback(reply_id)  # the message the buttons are on (it may have moved)
            if reply_id is not None and not await self._keep(message, settings, answer, reply_id, sources):
                return
            start = message.received_at.timestamp()
            first_text = None if shown.first_text_at is None or not knew else shown.first_text_at - start
            counts = {"questions": 1, "answered": 1} if knew else {"questions": 1}
            first_text_ms = None if first_text is None else max(0, round(first_text * 1000))
            await self._store.count(self._today(), message.thread.channel_key, counts, KEPT_SECONDS, first_text_ms)
            self._metrics.desk_question()
        except Exception:
            log.exception("%s: the helpdesk could not count the answer or show its buttons", message.thread)

    async def _keep(
        self, message: IncomingMessage, settings: ChannelSettings, answer: str, reply_id: str, sources: Sequence[str]
    ) -> bool:
        """Keep the answer for the votes on ``reply_id``: False if it was kept already."""
        thread = message.thread
        record = {
            "channel": str(thread.channel_key),
            "thread": thread.thread,
            "question": message.text.strip(),
            "answer": answer,
            "sources": list(sources),
            "settings": settings.model_dump(mode="json"),
            "answered_at": time.time(),
        }
        return await self._store.keep_answer(thread.platform, reply_id, record, KEPT_SECONDS)

    async def vote(self, platform: str, reply_id: str, voter: Author, vote: Vote) -> Voted:
        """One person's 👍 or 👎 on the answer in message ``reply_id``, counted once."""
        record = await self._store.answer(platform, reply_id)
        if record is None:
            return Voted(False, UNKNOWN_ANSWER)
        channel = ChannelKey.parse(str(record["channel"]))
        now = self._clock().timestamp()
        row = {**record, "platform": platform, "message": reply_id, "user": voter.id, "user_name": voter.name,
               "vote": vote, "reason": "", "voted_at": now}  # fmt: skip
        if not await self._store.add_vote(channel, f"{reply_id}:{voter.id}", row, now, KEPT_SECONDS):
            return Voted(False, ALREADY_VOTED)
        await self._store.count(self._today(), channel, {vote: 1}, KEPT_SECONDS, None)
        self._metrics.desk_vote(vote)
        return Voted(True, THANKS_UP if vote == "up" else THANKS_DOWN)

    async def explain(self, platform: str, reply_id: str, voter: Author, reason: str) -> bool:
        """What was wrong, said after a 👎: kept with that vote. False when there is no such vote."""
        record = await self._store.answer(platform, reply_id)
        if record is None:
            return False
        channel = ChannelKey.parse(str(record["channel"]))
        field = f"{reply_id}:{voter.id}"
        vote = await self._store.vote(channel, field)
        if vote is None:
            return False
        await self._store.replace_vote(channel, field, {**vote, "reason": reason.strip()[:2000]})
        return True

    async def report(self, channel: ChannelKey, day: str | None = None) -> list[str]:
        """The desk's lines of a channel's usage report that UTC day (default: today); none without desk activity."""
        totals, first_text_ms = await self._store.day(day or self._today(), channel)
        return desk_report(totals, first_text_ms)

    async def export(self, channel: ChannelKey | None, since: float) -> list[dict[str, Any]]:
        """Every vote (with its question, answer, sources and settings) from ``since`` on, oldest first."""
        channels = [channel] if channel is not None else await self._store.feedback_channels()
        rows: list[dict[str, Any]] = []
        for each in channels:
            rows += await self._store.votes_since(each, since)
        return sorted(rows, key=lambda row: float(row.get("voted_at", 0)))
