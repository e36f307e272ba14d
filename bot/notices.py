"""What the user is told when a turn brings no answer: the core's failure notices.

Each text names commands the core's way (``/reset``, ``/show``); the conversation
phrases it in the message's ``CommandStyle`` before it is shown.
"""

from __future__ import annotations

from bot.llm.base import BackendError, FailureKind, Unreachable
from bot.prompt import PromptTooLong

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
"""A backend's failure, by kind (``{model}``: the model it was asked for)."""

UNREACHABLE = (
    "parley cannot reach the model backend: nothing answers at its address. An admin needs to check "
    "the backend's base_url and that its server is running (parley backends check)."
)
"""A connection that never opened (refused, or a host name that does not resolve): the configuration's to fix."""


def failure_text(error: BackendError, model: str) -> str:
    """What the user is told: a connection that never opened is the configuration's to fix, not a wait's."""
    if isinstance(error, Unreachable):
        return UNREACHABLE
    return FAILURES[error.kind].format(model=model)


THREAD_BUSY = "Another reply in this thread is still being written. Please send your message again in a moment."
"""Another process holds the thread's lock."""

SOMETHING_BROKE = "Sorry, something went wrong on parley's side. Please try again."
"""An unexpected error in parley itself."""


def too_long_text(error: PromptTooLong) -> str:
    """The message (with the system prompt) does not fit the model's context window."""
    if error.budget <= 0:
        return (
            "This channel's max_tokens leaves no room for a prompt in the model's context window. "
            "An admin can lower max_tokens (/set max_tokens 1024)."
        )
    return (
        f"Your message is too long for this model: about {error.tokens} tokens with the system prompt, "
        f"and at most {error.budget} fit. Please shorten it or split it up."
    )


GAVE_UP = "Sorry, parley could not answer this message: it failed several times. Please try again later."
"""A queued message that failed ``[queue] max_attempts`` times, now a dead letter (the handler tells the thread)."""
