"""Running summaries of long threads (the ``summarize`` setting).

When a thread outgrows its prompt budget, the turns that no longer fit are not
just dropped: one non-streaming call to the channel's backend folds them (and
the older half of the turns that still fit, so that the next call is several
turns away) into the thread's running summary, stored with the thread (``Store.fold_summary``),
and the summary goes to the model in the system prompt of every later turn.
A failed summary call costs nothing but the summary: the turns are then
dropped from the prompt as without the setting, and the reply goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from bot.deadlines import ReplyCapped, timed
from bot.llm.base import Backend, BackendError, ChatRequest, FailureKind, Usage
from bot.messages import ChatMessage
from bot.prompt import estimate_tokens, group_turns, message_tokens
from bot.reasoning import strip_reasoning
from bot.store import Store
from bot.threads import ThreadKey
from bot.usage import estimate

log = logging.getLogger(__name__)

SUMMARY_MAX_TOKENS = 400
INSTRUCTIONS = (
    "You keep the running summary of a team chat thread between users and an assistant. "
    "Rewrite the summary so far together with the new turns into one updated summary: the facts, names, "
    "numbers, decisions and open questions a later answer may need. At most 200 words. "
    "Answer with the summary only."
)
SUMMARY_HEADING = "Summary of the earlier conversation in this thread:"


def with_summary(system_prompt: str, summary: str) -> str:
    """The system prompt the model gets: the channel's, then the thread's summary."""
    if not summary.strip():
        return system_prompt
    return f"{system_prompt.rstrip()}\n\n{SUMMARY_HEADING}\n{summary.strip()}".lstrip()


def turns_to_fold(total_turns: int, dropped_turns: int) -> int:
    """The dropped turns plus the older half of those kept, so that the next summary call is turns away."""
    kept = total_turns - dropped_turns
    return dropped_turns + kept // 2


def summary_request(previous: str, turns: Sequence[ChatMessage], context_window: int) -> list[ChatMessage]:
    """The messages that ask for the new summary: the newest of the turns that fit the window."""
    reply_room = min(SUMMARY_MAX_TOKENS, context_window // 4)
    head = f"Summary so far:\n{previous.strip() or '(none yet)'}\n\nNew turns:\n"
    room = context_window - reply_room - estimate_tokens(INSTRUCTIONS) - estimate_tokens(head) - 16
    lines: list[str] = []
    for message in reversed(turns):
        line = f"{message.role}: {message.content}"
        cost = estimate_tokens(line) + 1
        if cost > room:
            break
        lines.append(line)
        room -= cost
    lines.reverse()
    return [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", head + "\n".join(lines))]


@dataclass(frozen=True, slots=True)
class SummaryFold:
    """One fold of old turns into the thread's summary, as stored."""

    history: list[ChatMessage]
    """What is left of the stored history."""
    summary: str
    """The new running summary."""
    usage: Usage
    """The summary call's tokens."""


async def fold(
    store: Store,
    thread: ThreadKey,
    backend: Backend,
    model: str | None,
    *,
    history: Sequence[ChatMessage],
    summary: str,
    fold_turns: int,
    ttl_seconds: int,
    first_within: float | None = None,
    deadline: float | None = None,
    on_error: Callable[[FailureKind], None] | None = None,
) -> SummaryFold | None:
    """Fold the oldest ``fold_turns`` turns into the summary and store it; None if that failed (``on_error`` is
    told the kind of a backend's failure).

    The call gets the backend's first-token timeout for its (whole) answer and
    ends at the reply's deadline: a stalled backend must not hold up the reply
    (and its fallbacks) for a whole read timeout.
    """
    turns = group_turns(history)[:fold_turns]
    old_messages = [message for turn in turns for message in turn]
    messages = summary_request(summary, old_messages, backend.context_window)
    usage: Usage | None = None
    parts: list[str] = []
    try:
        request = ChatRequest(
            model=model or await backend.default_model(),
            messages=messages,
            max_tokens=min(SUMMARY_MAX_TOKENS, backend.context_window // 4),
            stream=False,
        )
        async with (
            aclosing(backend.generate(request)) as raw,
            aclosing(timed(raw, first_within=first_within, deadline=deadline)) as stream,
        ):
            async for item in stream:
                if isinstance(item, str):
                    parts.append(item)
                elif isinstance(item, Usage):
                    usage = item
    except (BackendError, ReplyCapped) as error:
        if isinstance(error, BackendError) and on_error is not None:
            on_error(error.kind)
        log.warning(
            "%s: could not summarise %d old turns (%s); they are left out of the prompt",
            thread,
            len(turns),
            error if isinstance(error, BackendError) else "the reply's time cap passed",
        )
        return None
    text = strip_reasoning("".join(parts)).strip()
    if not text:
        log.warning(
            "%s: the summary of %d old turns came back empty; they are left out of the prompt", thread, len(turns)
        )
        return None
    await store.fold_summary(thread, len(old_messages), text, ttl_seconds)
    log.info("%s: folded %d old turns into the thread's summary", thread, len(turns))
    if usage is None:
        usage = estimate(sum(message_tokens(m) for m in messages), text)
    return SummaryFold(list(history[len(old_messages) :]), text, usage)
