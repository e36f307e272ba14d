"""The conversation core: from an incoming message to a streamed, remembered reply.

A turn reads in order:

1. **dedup**: ``accept`` takes each platform event id once (a Redis SET NX with expiry);
2. **order**: the turns of one thread run one at a time, in arrival order;
3. **decide**: a command is run; any other message is answered or not, by the channel's settings;
4. **lock**: the thread's Redis lock, so that two processes never interleave its turns;
5. **answer**: the thread's history, the prompt, the budget, the model's reply streamed into the sink;
6. **store**: an answered turn into the history, and the turn's tokens into the day's usage.

``accept`` (1) and ``handle`` (3 to 6) are kept apart so that a queue can sit between them:
``receive`` does all of it in this process (the terminal, the console's playground); ``enqueue``
dedups and queues a message durably (``bot/queue.py``), and a ``Worker`` (``bot/worker.py``) takes
it, in its thread's order, and has the platform's handler call ``handle`` through a ``JobTurn``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from bot.admin import Admin
from bot.answering import Answer, Responder
from bot.attachments import ReadFiles
from bot.channels import Channels
from bot.commands import Command, Commands, parse_command
from bot.config import Config
from bot.desk import Desk, Shown, is_helpdesk
from bot.desk_store import DeskStore
from bot.jobs import JobHandler
from bot.keyvalue import Namespace
from bot.knowledge.grounding import DONT_KNOW, Knowledge
from bot.ledger import ReplyLedger, say
from bot.llm.base import Backend
from bot.messages import TERMINAL_STYLE, Author, ChatMessage, CommandStyle, IncomingMessage
from bot.metrics import Metrics, TurnEnd
from bot.model_catalog import ModelCatalog
from bot.notices import SOMETHING_BROKE, THREAD_BUSY, too_long_text
from bot.ordering import ArrivalOrder
from bot.outcome import turn_failed
from bot.pacing import PaceBook
from bot.prompt import PromptTooLong
from bot.queue import Queue
from bot.rate_limits import RateLimits
from bot.replying import cost_of, stream_reply
from bot.settings import ChannelSettings
from bot.shared_pacing import SharedBudgets
from bot.sink import ReplySink
from bot.store import Store, ThreadBusy
from bot.summary import SummaryFold
from bot.thread_context import attributed, prior_history
from bot.threads import ChannelKey, ThreadKey
from bot.trace import in_trace
from bot.turn_files import context_window, read_message_files
from bot.usage import BudgetCheck, Clock, Hold, UsageBook, utc_now
from bot.worker import Worker

log = logging.getLogger(__name__)


PLAYGROUND = "console"
"""The ``platform`` label of the web console's playground turns in ``/metrics``."""


class TurnNotStored(Exception):
    """The reply reached the user (or its failure notice did), but storing the turn failed even after
    retrying: the user is not told that something went wrong after their answer. Raised out of
    ``handle`` so that a queued job stays queued; ``receive`` logs it."""

    def __init__(self, message: str, end: TurnEnd) -> None:
        super().__init__(message)
        self.end = end
        """How the turn ended for its user."""


class Conversation:
    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        backends: dict[str, Backend],
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        """This process's counters for ``/metrics`` (``bot/metrics.py``)."""
        self.backends = backends
        self._store = store
        self._channels = Channels(config, store, ModelCatalog(config, backends))
        self._usage = UsageBook(store, clock)
        self.desk = Desk(config, DeskStore(store.redis, store.prefix), self.settings_for, clock, self.metrics)
        """The helpdesk: votes on answers, hand-offs to a person (``bot/desk.py``)."""
        self._commands = Commands(config, store, self._channels, self._usage, self.desk)
        self._order = ArrivalOrder()
        self._knowledge = Knowledge(config, store)
        self._rate_limits = RateLimits(config.rate_limits, store, lambda: clock().timestamp())
        self.queue = Queue(store.redis, store.prefix, config.queue, config.dedup_seconds)
        """The durable queue between ``enqueue`` and the workers (``bot/queue.py``)."""
        self.admin = Admin(
            config, store, self._channels, self._commands, self._usage, partial(self.receive, counted_as=PLAYGROUND)
        )
        """What an admin's tool (the web console) asks of the core."""

    # -- what an adapter asks of the core besides receive (see bot/api.py) ----------------
    async def settings_for(self, channel: ChannelKey) -> ChannelSettings:
        """A channel's settings in effect (the config's layers, then its runtime overrides)."""
        return (await self._channels.resolve(channel)).settings

    async def run_command(
        self, command: Command, thread: ThreadKey, author: Author, style: CommandStyle = TERMINAL_STYLE
    ) -> str:
        """A command's answer (``/show``, ``/set``...), phrased as this platform's users type commands: a
        slash command, answered (``/metrics`` counts it as a typed command is counted)."""
        answer = await self._commands.run(command, thread, author, style)
        self.metrics.message(thread.platform, "answered")
        return answer

    def state(self, namespace: str) -> Namespace:
        """A key-value store of the adapter's own, under its namespace (the platform's name)."""
        return self._store.namespace(namespace)

    def pace_book(self, clock: Callable[[], float] = time.monotonic) -> PaceBook:
        """Write budgets by name (a channel's, say) that every process on this Redis shares; a 429 pauses one
        for all of them (``bot/shared_pacing.py``)."""
        return PaceBook(clock, shared=SharedBudgets(self._store))

    async def has_history(self, thread: ThreadKey) -> bool:
        """Whether parley remembers turns of this thread."""
        return await self._store.has_history(thread)

    async def context_wanted(self, thread: ThreadKey, settings: ChannelSettings | None = None) -> int:
        """How many of a thread's earlier messages to read from the platform and hand over on
        ``IncomingMessage.prior`` when parley is addressed in it: 0 once parley remembers the thread
        (later messages reach it as events), or when the channel's ``thread_context`` is off."""
        if await self._store.knows_thread(thread):
            return 0
        if settings is None:
            settings = await self.settings_for(thread.channel_key)
        return settings.thread_context_messages if settings.thread_context else 0

    async def note(self, message: IncomingMessage, settings: ChannelSettings | None = None) -> None:
        """A thread message parley is not asked to answer: kept in the history of a thread parley
        remembers (``thread_context`` on), so that its next answer there knows it; never raises."""
        try:
            if message.is_dm or not await self._store.has_history(message.thread):
                return
            if not await self.accept(message):
                self.metrics.message(message.thread.platform, "deduplicated")
                return
            self.metrics.message(message.thread.platform, "ignored")
            if settings is None:
                settings = (await self._channels.resolve(message.thread.channel_key)).settings
            await self._note(message, settings)
        except Exception:
            log.exception("noting event %s in %s failed", message.event_id, message.thread)

    async def ping(self) -> bool:
        """Whether the core's Redis answers (for health checks); never raises."""
        return await self._store.ping()

    @in_trace
    async def receive(
        self,
        message: IncomingMessage,
        sink: ReplySink,
        settings: ChannelSettings | None = None,
        *,
        counted_as: str | None = None,
    ) -> None:
        """Accept and handle one incoming message, in the caller's trace or a new one; never raises.

        ``settings``: the channel's settings, when the adapter has resolved them
        already (the core then does not resolve them again). ``counted_as``: the ``platform`` label of its
        metrics, when not its thread's (the console's playground turns are not that platform's traffic).
        """
        slot = self._order.reserve(message.thread)  # taken on arrival, before any await: turns keep arrival order
        end = TurnEnd("failed")
        try:
            if await self.accept(message):
                await slot.wait()
                end = await self.handle(message, sink, settings)
            else:
                log.info("event %s already handled: ignoring the redelivery", message.event_id)
                end = TurnEnd("deduplicated")
        except TurnNotStored as error:
            end = error.end
            log.exception("event %s in %s: the reply was shown but not remembered", message.event_id, message.thread)
        except Exception:
            log.exception("handling event %s in %s failed", message.event_id, message.thread)
            turn_failed(sink)
            try:
                await sink.post(SOMETHING_BROKE)
            except Exception:
                log.exception("could not tell the user either")
        finally:
            slot.release()
        self.metrics.ended(counted_as or message.thread.platform, end)

    async def enqueue(
        self, thread: ThreadKey, event_id: str, payload: Mapping[str, Any], *, twin: bool = False
    ) -> bool:
        """Dedup and queue one accepted platform event durably, in one step: False for a redelivery of one
        seen before. Raises ``QueueUnavailable`` when Redis did not take it: do not acknowledge the platform.
        ``twin``: the platform sends this message as two events by design (a mention and a message), so its
        duplicate is not a redelivery to count."""
        if await self.queue.enqueue(thread, event_id, payload) is None:
            if not twin:
                self.metrics.message(thread.platform, "deduplicated")
            return False
        return True

    def lost(self, platform: str) -> None:
        """An ingress could not queue a message and will not see it again (it apologised): a failed message."""
        self.metrics.message(platform, "failed")

    def worker(self, handlers: Mapping[str, JobHandler], consumer: str) -> Worker:
        """A worker answering queued jobs through ``handlers`` (by platform), as consumer ``consumer``."""
        return Worker(self, handlers, consumer)

    async def accept(self, message: IncomingMessage) -> bool:
        """Dedup: true if this event is new; false for a redelivery."""
        return await self._store.claim_event(f"{message.thread.platform}:{message.event_id}", self.config.dedup_seconds)

    async def handle(
        self,
        message: IncomingMessage,
        sink: ReplySink,
        settings: ChannelSettings | None = None,
        ledger: ReplyLedger | None = None,
    ) -> TurnEnd:
        """Decide, then lock, answer and store: one turn (or a command) of an accepted message; how it ended
        (the caller counts it). ``ledger``: a queued job's (every message the turn posts goes through it)."""
        started = time.time()
        command = parse_command(message.text)
        if command is not None:
            await say(sink, await self._commands.run(command, message.thread, message.author, message.style), ledger)
            return TurnEnd("answered")
        if settings is None:
            settings = (await self._channels.resolve(message.thread.channel_key)).settings
        if not await self._decide(message, settings) or await self.desk.intercept(message, settings, sink):
            await self._note(message, settings)
            return TurnEnd("ignored")
        if (ledger is None or not ledger.retrying) and not await self._rate_limits.admit(message, sink, ledger):
            return TurnEnd("rate_limited")  # (a job taken again after a failure was counted when it was first taken)
        try:
            async with self._store.thread_lock(message.thread):
                return await self._answer(message, settings, sink, ledger, started)
        except ThreadBusy as busy:
            log.warning("%s", busy)
            turn_failed(sink)
            await say(sink, message.style.phrase(THREAD_BUSY), ledger)
            return TurnEnd("failed")

    async def _decide(self, message: IncomingMessage, settings: ChannelSettings) -> bool:
        """Whether to answer: text, in an enabled channel, to a DM, a mention or (trigger "thread") parley's thread."""
        if not (message.text.strip() or message.files) or not settings.enabled:
            return False
        if message.is_dm or message.mentioned:
            return True
        return settings.trigger == "thread" and await self._store.has_history(message.thread)

    async def _note(self, message: IncomingMessage, settings: ChannelSettings) -> None:
        """Keep an unanswered thread message, attributed, in a remembered thread's history."""
        text = message.text.strip()
        if message.is_dm or not text or not settings.enabled or not settings.thread_context:
            return
        if not await self._store.has_history(message.thread):
            return
        history = self.config.history
        entry = ChatMessage("user", attributed(message.author.name, text))
        await self._store.append_turn(message.thread, [entry], 2 * history.max_turns, history.ttl_seconds)

    async def _answer(
        self,
        message: IncomingMessage,
        settings: ChannelSettings,
        sink: ReplySink,
        ledger: ReplyLedger | None,
        started: float,
    ) -> TurnEnd:
        """Answer, then store the turn; the budget held for the reply is released however the turn ends.
        ``started``: when the turn began (epoch seconds), for the answer's times."""
        read = await read_message_files(message, settings, self.config, self.backends)
        window = context_window(settings, self.config, self.backends)
        grounding = await self._knowledge.ground(message.text, read.text, settings, window)
        if grounding.unknown:
            await self._dont_know(message, settings, sink, read.text, ledger)
            return TurnEnd("answered")
        responder = await self._responder(message, grounding.settings, read)
        try:
            prompt = responder.first_prompt()
        except PromptTooLong as error:
            turn_failed(sink)
            await say(sink, message.style.phrase(too_long_text(error)), ledger)
            return TurnEnd("failed")
        budget = await self._hold_budget(message, settings, prompt.tokens + settings.max_tokens)
        if not budget.allowed:
            turn_failed(sink)
            await say(sink, message.style.phrase(budget.refusal), ledger)
            return TurnEnd("budget")
        try:
            replied = await stream_reply(
                self._store, responder, prompt, sink, message.style, read.notes, grounding.footer, ledger
            )
            answer, end = replied.answer, replied.end(started)
            try:
                await self._remember(message, answer, replied.summary_fold, read.text)
            except Exception as error:
                raise TurnNotStored(f"storing the turn of {message.thread} failed: {error}", end) from error
            if answer is not None and is_helpdesk(settings):
                sources = tuple(dict.fromkeys(hit.passage.title for hit in grounding.hits))
                await self.desk.answered(message, settings, sink, answer.text, replied.shown, sources)
            return end
        finally:
            if budget.hold is not None:
                await self._release_budget(message, budget.hold)

    async def _release_budget(self, message: IncomingMessage, hold: Hold) -> None:
        """Let go of the reply's budget hold; one that cannot be let go of expires by itself."""
        try:
            await self._usage.release(message.thread.channel_key, hold)
        except Exception:
            log.warning("%s: could not release the budget hold %s (it expires by itself)", message.thread, hold.member,
                        exc_info=True)  # fmt: skip

    async def _dont_know(
        self,
        message: IncomingMessage,
        settings: ChannelSettings,
        sink: ReplySink,
        text: str,
        ledger: ReplyLedger | None,
    ) -> None:
        """``grounded_only`` and nothing relevant in the channel's documents: say so and offer a person; the
        model is not called. The turn is kept, so that the thread goes on."""
        log.info("%s: nothing relevant in the channel's knowledge: the model is not called", message.thread)
        posted = await say(sink, DONT_KNOW, ledger)  # complete: no edit follows
        await self.desk.answered(message, settings, sink, DONT_KNOW, Shown(posted, time.time()), knew=False)
        history = self.config.history
        turn = [ChatMessage("user", text), ChatMessage("assistant", DONT_KNOW)]
        await self._store.append_turn(message.thread, turn, 2 * history.max_turns, history.ttl_seconds)

    async def _responder(self, message: IncomingMessage, settings: ChannelSettings, read: ReadFiles) -> Responder:
        """The models' side of this turn, given the thread's history and running summary."""
        history, summary = await self._store.load_thread(message.thread, self.config.history.ttl_seconds)
        if not history and message.prior and settings.thread_context:  # parley joins a thread: what came before
            history = prior_history(message.prior, settings.thread_context_messages)
            if history:
                limits = self.config.history
                await self._store.append_turn(message.thread, history, 2 * limits.max_turns, limits.ttl_seconds)
        if message.viewing:  # for this turn only
            viewing = f"The user is looking at the channel {message.viewing} beside this conversation."
            settings = settings.model_copy(update={"system_prompt": f"{settings.system_prompt}\n\n{viewing}"})
        return Responder(
            backends=self.backends,
            config=self.config,
            settings=settings,
            thread=message.thread,
            text=read.text,
            history=history,
            summary=summary,
            images=read.images,
            metrics=self.metrics,
        )

    async def _hold_budget(self, message: IncomingMessage, settings: ChannelSettings, tokens: int) -> BudgetCheck:
        """The channel's daily token budget: room for this reply (held while it is written), or a refusal."""
        budget = settings.daily_token_budget
        seconds = settings.reply_timeout_seconds + 60
        check = await self._usage.hold(message.thread.channel_key, budget, tokens, seconds)
        if not check.allowed:
            log.info("%s: daily token budget of %s: the model is not called (%s)", message.thread, budget,
                     check.refusal)  # fmt: skip
        return check

    async def _remember(
        self, message: IncomingMessage, answer: Answer | None, summary_fold: SummaryFold | None, text: str
    ) -> None:
        """An answered turn into the thread's history (a failed one leaves it as it was); its tokens into usage.
        ``text``: the user's, with the files' text and the images' placeholders (never image bytes)."""
        if answer is not None:
            history = self.config.history
            turn = [ChatMessage("user", text), ChatMessage("assistant", answer.text)]
            await self._store.append_turn(message.thread, turn, 2 * history.max_turns, history.ttl_seconds)
        cost = cost_of(answer, summary_fold)
        if cost is not None:
            await self._usage.record(message.thread.channel_key, message.author.id, cost)
