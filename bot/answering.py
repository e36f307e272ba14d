"""One reply from the models: the primary, then fallbacks, with time limits and reasoning kept apart.

``Responder.fold_summary`` first folds the turns the prompt leaves out into the
thread's running summary (``bot/summary.py``), when the channel wants one.
``Responder.run`` tries the channel's backends in order (``bot/fallback.py``).
Each attempt streams through ``deadlines.timed`` (first-token timeout, total
cap), splits reasoning from the answer (``bot/reasoning.py``) and shows what
the channel wants through the reply streamer. A backend's "context" error
retries once on the same backend with half the earlier turns. Only the answer
text is returned for the history; reasoning and notes never are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial

from bot.config import Config
from bot.deadlines import ReplyCapped, timed
from bot.fallback import Target, capped_note, fallback_note, falls_back, targets
from bot.llm.base import Backend, BackendError, ChatRequest, FailureKind, Reasoning, Usage
from bot.messages import ChatMessage, Image
from bot.metrics import Metrics
from bot.prompt import Prompt, PromptTooLong, build_prompt, group_turns
from bot.reasoning import Piece, ReasoningQuote, ThinkFilter
from bot.settings import ChannelSettings
from bot.store import Store
from bot.streaming import ReplyStreamer
from bot.summary import SummaryFold, fold, turns_to_fold, with_summary
from bot.threads import ThreadKey
from bot.usage import estimate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    """The answer as the model wrote it: what the thread's history keeps."""
    usage: Usage
    backend: str
    """The backend that answered (a fallback's name when a fallback did)."""
    fallback: bool = False
    capped: bool = False


class ReplyFailed(Exception):
    """No backend answered; ``error`` is the last failure, ``model`` the model it was asked for."""

    def __init__(self, error: BackendError, target: Target, model: str) -> None:
        super().__init__(f"{target} ({model}): {error}")
        self.error = error
        self.target = target
        self.model = model


class _Display:
    """What the user sees of one reply, across attempts; ``shown`` once any visible text went out."""

    def __init__(self, streamer: ReplyStreamer, show_reasoning: bool) -> None:
        self._streamer = streamer
        self._show_reasoning = show_reasoning
        self.shown = False
        self.begin()

    def begin(self) -> None:
        """A new attempt: nothing of it collected yet."""
        self._quote = ReasoningQuote()
        self._held = ""
        self.answer_parts: list[str] = []
        self.reasoning_parts: list[str] = []

    async def piece(self, piece: Piece) -> None:
        if piece.reasoning:
            self.reasoning_parts.append(piece.text)
            if self._show_reasoning:
                await self._feed(self._quote.reasoning(piece.text))
        else:
            self.answer_parts.append(piece.text)
            await self._feed(self._quote.answer(piece.text))

    async def note(self, text: str) -> None:
        await self._streamer.feed(text)

    async def _feed(self, text: str) -> None:
        if not self.shown:  # whitespace alone commits nothing: a fallback may still answer
            self._held += text
            if not self._held.strip():
                return
            text, self._held, self.shown = self._held, "", True
        await self._streamer.feed(text)


class Responder:
    """The models' side of one turn of a thread: its targets, the history and summary its prompts are built from."""

    def __init__(
        self,
        *,
        backends: Mapping[str, Backend],
        config: Config,
        settings: ChannelSettings,
        thread: ThreadKey,
        text: str,
        history: Sequence[ChatMessage],
        summary: str,
        images: Sequence[Image] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self._backends = backends
        self._metrics = metrics or Metrics()
        """Counts each backend's errors and tokens, and the replies fallbacks answered (``/metrics``)."""
        self._config = config
        self._settings = settings
        self.thread = thread
        self._text = text
        self._history = list(history)
        self._summary = summary
        self._images = tuple(images)
        primary = settings.backend or config.default_backend
        self._targets = targets(primary, settings.model, settings.fallbacks)
        self._deadline = asyncio.get_running_loop().time() + settings.reply_timeout_seconds
        """When the reply's time cap passes: counted from the start of the turn, a summary call included."""

    def _first_token_timeout(self, target: Target) -> float | None:
        found = self._config.backends.get(target.backend)
        return found.first_token_timeout if found else None

    # -- prompts ------------------------------------------------------------------
    def prompt(self, target: Target, history_turns: int | None = None) -> Prompt:
        """The prompt for one backend's context window (raises PromptTooLong)."""
        settings = self._settings
        return build_prompt(
            with_summary(settings.system_prompt, self._summary),
            self._history,
            self._text,
            context_window=self._backends[target.backend].context_window,
            max_tokens=settings.max_tokens,
            history_turns=settings.history_turns if history_turns is None else history_turns,
            history_tokens=settings.history_tokens,
            images=self._images,
        )

    def first_prompt(self) -> Prompt:
        return self.prompt(self._targets[0])

    def _trimmed(self, target: Target, prompt: Prompt) -> Prompt | None:
        """Half the earlier turns of ``prompt``; None if it had none to drop."""
        kept = len(group_turns(self._history)) - prompt.dropped_turns
        return self.prompt(target, history_turns=kept // 2) if kept else None

    def _fallback_prompt(self, target: Target) -> Prompt | None:
        try:
            return self.prompt(target)
        except PromptTooLong as error:
            log.warning("%s: fallback %s skipped: %s", self.thread, target, error)
            return None

    # -- the summary ---------------------------------------------------------------
    async def fold_summary(self, store: Store, prompt: Prompt) -> SummaryFold | None:
        """With ``summarize``, fold the turns ``prompt`` leaves out into the thread's summary.

        The primary target writes the summary, within the reply's deadline; the
        summary and what is left of the history are stored, and this responder's
        prompts are built from them from now on. None: nothing was folded (the
        setting is off, no turn was left out, or the call failed).
        """
        if not self._settings.summarize or not prompt.dropped_turns:
            return None
        primary = self._targets[0]
        folded = await fold(
            store,
            self.thread,
            self._backends[primary.backend],
            primary.model,
            history=self._history,
            summary=self._summary,
            fold_turns=turns_to_fold(len(group_turns(self._history)), prompt.dropped_turns),
            ttl_seconds=self._config.history.ttl_seconds,
            first_within=self._first_token_timeout(primary),
            deadline=self._deadline,
            on_error=partial(self._metrics.backend_error, primary.backend),
        )
        if folded is not None:
            self._history, self._summary = folded.history, folded.summary
            self._metrics.used(primary.backend, folded.usage.prompt_tokens, folded.usage.completion_tokens)
        return folded

    # -- the attempts -------------------------------------------------------------
    async def run(self, streamer: ReplyStreamer, first_prompt: Prompt) -> Answer:
        """The first backend's answer that shows text; raises ReplyFailed when none does."""
        deadline = self._deadline
        display = _Display(streamer, self._settings.show_reasoning)
        reason: FailureKind | None = None
        failure: ReplyFailed | None = None
        for index, target in enumerate(self._targets):
            prompt = first_prompt if index == 0 else self._fallback_prompt(target)
            if prompt is None:
                continue
            try:
                answer, model = await self._on_target(target, prompt, display, deadline)
            except ReplyFailed as failed:
                failure = failed
                if display.shown or not falls_back(failed.error.kind) or index + 1 == len(self._targets):
                    raise
                log.warning("%s: %s; the next fallback answers", self.thread, failed)
                reason = reason or failed.error.kind
                continue
            self._metrics.used(target.backend, answer.usage.prompt_tokens, answer.usage.completion_tokens)
            if reason is not None:
                self._metrics.fallback(target.backend)
                log.warning("%s: answered by fallback %s:%s (the primary failed: %s)", self.thread, target.backend,
                            model, reason)  # fmt: skip
                await display.note(fallback_note(target.backend, model, reason))
            if answer.capped:
                log.warning("%s: reply cut off at the %gs cap", self.thread, self._settings.reply_timeout_seconds)
                await display.note(capped_note(self._settings.reply_timeout_seconds))
            return Answer(answer.text, answer.usage, target.backend, fallback=reason is not None, capped=answer.capped)
        assert failure is not None, "the primary is always tried"
        raise failure

    async def _on_target(
        self, target: Target, prompt: Prompt, display: _Display, deadline: float
    ) -> tuple[Answer, str]:
        """One backend's answer, retried once with fewer turns on a context error."""
        backend = self._backends[target.backend]
        model = target.model or "(the backend's default)"
        try:
            model = target.model or await backend.default_model()
            try:
                return await self._attempt(target, model, prompt, display, deadline), model
            except BackendError as error:
                smaller = None if error.kind != "context" or display.shown else self._trimmed(target, prompt)
                if smaller is None:
                    raise
                self._metrics.backend_error(target.backend, error.kind)
                log.warning("%s: %s: %s; retrying once with %d fewer earlier turns", self.thread, target, error,
                            smaller.dropped_turns - prompt.dropped_turns)  # fmt: skip
                return await self._attempt(target, model, smaller, display, deadline), model
        except BackendError as error:
            self._metrics.backend_error(target.backend, error.kind)
            raise ReplyFailed(error, target, model) from None

    async def _attempt(self, target: Target, model: str, prompt: Prompt, display: _Display, deadline: float) -> Answer:
        backend = self._backends[target.backend]
        first_within = self._first_token_timeout(target)
        display.begin()
        think = ThinkFilter()
        usage: Usage | None = None
        capped = False
        try:
            async with (
                aclosing(backend.generate(self._request(model, prompt))) as raw,
                aclosing(timed(raw, first_within=first_within, deadline=deadline)) as items,
            ):
                async for item in items:
                    if isinstance(item, Usage):
                        usage = item
                    elif isinstance(item, Reasoning):
                        await display.piece(Piece(item.text, True))
                    else:
                        for piece in think.feed(item):
                            await display.piece(piece)
        except ReplyCapped:
            capped = True
        for piece in think.flush():
            await display.piece(piece)
        text = "".join(display.answer_parts)
        if capped and not (display.shown and text.strip()):
            raise BackendError(
                "timeout", f"no answer within the reply cap of {self._settings.reply_timeout_seconds:g}s"
            )
        if not text.strip():
            raise BackendError("empty", "the model's answer had no text")
        if usage is None or capped:
            usage = estimate(prompt.tokens, text + "".join(display.reasoning_parts))
        return Answer(text, usage, target.backend, capped=capped)

    def _request(self, model: str, prompt: Prompt) -> ChatRequest:
        settings = self._settings
        return ChatRequest(
            model=model,
            messages=prompt.messages,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            presence_penalty=settings.presence_penalty,
            frequency_penalty=settings.frequency_penalty,
            stop=settings.stop,
            stream=settings.stream,
        )
