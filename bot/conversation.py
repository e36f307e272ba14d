"""The conversation core: from an incoming message to a streamed, remembered reply.

Two steps, kept apart so that a queue can later sit between them:

- ``accept``: at most once per platform event id (a Redis SET NX with expiry).
- ``handle``: commands, or one turn: settings, history, prompt, backend, reply.

``receive`` does both for an adapter, keeping the turns of one thread in
arrival order.
"""

from __future__ import annotations

import logging

from bot.answering import Answer, ReplyFailed, Responder
from bot.channels import Channels
from bot.commands import Commands, parse_command
from bot.config import Config
from bot.llm.base import Backend, BackendError, FailureKind, Unreachable
from bot.messages import ChatMessage, CommandStyle, IncomingMessage
from bot.model_catalog import ModelCatalog
from bot.ordering import ArrivalOrder
from bot.outcome import turn_failed
from bot.prompt import Prompt, PromptTooLong, group_turns
from bot.settings import ChannelSettings
from bot.sink import ReplySink
from bot.store import Store, ThreadBusy
from bot.streaming import ReplyStreamer
from bot.summary import Folded, fold, turns_to_fold
from bot.usage import BudgetCheck, Clock, ReplyCost, UsageBook, add, utc_now

log = logging.getLogger(__name__)

FAILURES: dict[FailureKind, str] = {
    "unavailable": "The model backend is unavailable right now. Please try again in a minute.",
    "rate_limited": "The model backend is busy (rate limited). Please try again in a minute.",
    "auth": "The model backend refused parley's credentials. An admin needs to check the API key.",
    "unknown_model": "The model backend does not know the model {model}. An admin can choose another (/models).",
    "rejected": "The model backend rejected the request. An admin can check the model and settings (/show).",
    "context": (
        "This thread no longer fits the model's context window. Send /reset to start afresh, "
        "or an admin can lower history_turns or max_tokens."
    ),
    "timeout": "The model took too long to answer. Please send your message again.",
    "interrupted": "The reply was cut off before it finished. Please send your message again.",
    "empty": "The model returned an empty answer. Please try again, or rephrase.",
}
UNREACHABLE = (
    "parley cannot reach the model backend: nothing answers at its address. An admin needs to check "
    "the backend's base_url and that its server is running (parley backends check)."
)
THREAD_BUSY = "Another reply in this thread is still being written. Please send your message again in a moment."
SOMETHING_BROKE = "Sorry, something went wrong on parley's side. Please try again."


def failure_text(error: BackendError, model: str) -> str:
    """What the user is told: a connection that never opened is the configuration's to fix, not a wait's."""
    if isinstance(error, Unreachable):
        return UNREACHABLE
    return FAILURES[error.kind].format(model=model)


def too_long_text(error: PromptTooLong) -> str:
    if error.budget <= 0:
        return (
            "This channel's max_tokens leaves no room for a prompt in the model's context window. "
            "An admin can lower max_tokens (/set max_tokens 1024)."
        )
    return (
        f"Your message is too long for this model: about {error.tokens} tokens with the system prompt, "
        f"and at most {error.budget} fit. Please shorten it or split it up."
    )


class Conversation:
    def __init__(self, *, config: Config, store: Store, backends: dict[str, Backend], clock: Clock = utc_now) -> None:
        self.config = config
        self.store = store
        self.backends = backends
        self.channels = Channels(config, store, ModelCatalog(config, backends))
        self.usage = UsageBook(store, clock)
        self.commands = Commands(config, store, self.channels, self.usage)
        self._order = ArrivalOrder()

    async def receive(self, message: IncomingMessage, sink: ReplySink) -> None:
        """Accept and handle one incoming message; never raises."""
        slot = self._order.reserve(message.thread)
        try:
            if not await self.accept(message):
                log.info("event %s already handled: ignoring the redelivery", message.event_id)
                return
            await slot.wait()
            await self.handle(message, sink)
        except Exception:
            log.exception("handling event %s in %s failed", message.event_id, message.thread)
            turn_failed(sink)
            try:
                await sink.post(SOMETHING_BROKE)
            except Exception:
                log.exception("could not tell the user either")
        finally:
            slot.release()

    async def accept(self, message: IncomingMessage) -> bool:
        """True if this event is new; false for a redelivery."""
        return await self.store.claim_event(f"{message.thread.platform}:{message.event_id}", self.config.dedup_seconds)

    async def handle(self, message: IncomingMessage, sink: ReplySink) -> None:
        command = parse_command(message.text)
        if command is not None:
            await sink.post(await self.commands.run(command, message.thread, message.author, message.style))
            return
        settings = (await self.channels.resolve(message.thread.channel_key)).settings
        if not message.text.strip() or not await self._should_answer(message, settings):
            return
        try:
            async with self.store.thread_lock(message.thread):
                await self._answer(message, settings, sink)
        except ThreadBusy as busy:
            log.warning("%s", busy)
            turn_failed(sink)
            await sink.post(message.style.phrase(THREAD_BUSY))

    async def _should_answer(self, message: IncomingMessage, settings: ChannelSettings) -> bool:
        if not settings.enabled:
            return False
        if message.is_dm or message.mentioned:
            return True
        return settings.trigger == "thread" and await self.store.has_history(message.thread)

    async def _answer(self, message: IncomingMessage, settings: ChannelSettings, sink: ReplySink) -> None:
        thread, text = message.thread, message.text.strip()
        ttl = self.config.history.ttl_seconds
        history, summary = await self.store.load_thread(thread, ttl)
        if message.viewing:  # for this turn only
            viewing = f"The user is looking at the channel {message.viewing} beside this conversation."
            settings = settings.model_copy(update={"system_prompt": f"{settings.system_prompt}\n\n{viewing}"})
        responder = Responder(
            backends=self.backends,
            config=self.config,
            settings=settings,
            thread=thread,
            text=text,
            history=history,
            summary=summary,
        )
        try:
            prompt = responder.first_prompt()
        except PromptTooLong as error:
            turn_failed(sink)
            await sink.post(message.style.phrase(too_long_text(error)))
            return
        budget = await self._hold_budget(message, settings, prompt.tokens + settings.max_tokens)
        if not budget.allowed:
            turn_failed(sink)
            await sink.post(message.style.phrase(budget.refusal))
            return
        try:
            answer, summarised = await self._reply(responder, prompt, settings, sink, message.style)
            if answer is not None:
                turn = [ChatMessage("user", text), ChatMessage("assistant", answer.text)]
                await self.store.append_turn(thread, turn, 2 * self.config.history.max_turns, ttl)
            await self._record_usage(message, answer, summarised)
        finally:
            if budget.hold is not None:
                await self.usage.release(thread.channel_key, budget.hold)

    async def _reply(
        self, responder: Responder, prompt: Prompt, settings: ChannelSettings, sink: ReplySink, style: CommandStyle
    ) -> tuple[Answer | None, Folded | None]:
        """Stream the answer into the sink (or tell why there is none); the answer and any summary made."""
        streamer = ReplyStreamer(sink)
        await streamer.start()
        summarised: Folded | None = None
        try:
            summarised = await self._summarize(responder, prompt) if settings.summarize else None
            if summarised is not None:
                prompt = responder.first_prompt()
            answer = await responder.run(streamer, prompt)
            await streamer.finish()
            return answer, summarised
        except PromptTooLong as error:
            turn_failed(sink)
            await streamer.fail(style.phrase(too_long_text(error)))
        except ReplyFailed as failed:
            log.warning("%s: backend %s failed: %s", responder.thread, failed.target, failed.error)
            turn_failed(sink)
            await streamer.fail(style.phrase(failure_text(failed.error, failed.model)))
        finally:
            await streamer.aclose()
        return None, summarised

    async def _record_usage(self, message: IncomingMessage, answer: Answer | None, summarised: Folded | None) -> None:
        """The turn's tokens, once: the answer's and the summary call's (which counts even if no answer came)."""
        if answer is not None:
            usage = add(answer.usage, summarised.usage if summarised else None)
            cost = ReplyCost(usage, answer.fallback, answer.capped)
        elif summarised is not None:
            cost = ReplyCost(summarised.usage, answered=False)
        else:
            return
        await self.usage.record(message.thread.channel_key, message.author.id, cost)

    async def _hold_budget(self, message: IncomingMessage, settings: ChannelSettings, tokens: int) -> BudgetCheck:
        """The channel's daily token budget: room for this reply (held while it is written), or a refusal."""
        budget = settings.daily_token_budget
        seconds = settings.reply_timeout_seconds + 60
        check = await self.usage.hold(message.thread.channel_key, budget, tokens, seconds)
        if not check.allowed:
            log.info("%s: daily token budget of %s: the model is not called (%s)", message.thread, budget,
                     check.refusal)  # fmt: skip
        return check

    async def _summarize(self, responder: Responder, prompt: Prompt) -> Folded | None:
        """Fold the turns this prompt leaves out into the thread's summary (None: nothing folded)."""
        if not prompt.dropped_turns:
            return None
        primary = responder.targets[0]
        folded = await fold(
            self.store,
            responder.thread,
            self.backends[primary.backend],
            primary.model,
            history=responder.history,
            summary=responder.summary,
            fold_turns=turns_to_fold(len(group_turns(responder.history)), prompt.dropped_turns),
            ttl_seconds=self.config.history.ttl_seconds,
            first_within=responder.first_token_timeout(primary),
            deadline=responder.deadline,
        )
        if folded is None:
            return None
        responder.history, responder.summary = folded.history, folded.summary
        return folded
