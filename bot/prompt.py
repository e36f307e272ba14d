"""Building the prompt for one turn: pure logic, no I/O.

The prompt is the system prompt, as many of the newest earlier turns as fit,
and the new user message. What fits is measured with an offline token
estimate (no tokenizer download): about four ASCII characters per token and
one token per other character, which errs on the generous side for most
scripts, plus a few tokens of framing per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.messages import ChatMessage, Image

MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3
IMAGE_TOKENS = 1600
"""What one image may cost (Anthropic's estimate for a large one; OpenAI's high detail is near it)."""


def estimate_tokens(text: str) -> int:
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_chars = len(text) - ascii_chars
    return -(-ascii_chars // 4) + other_chars


def message_tokens(message: ChatMessage) -> int:
    return estimate_tokens(message.content) + MESSAGE_OVERHEAD + IMAGE_TOKENS * len(message.images)


class PromptTooLong(Exception):
    """The new message (with the system prompt) does not fit the model's budget."""

    def __init__(self, tokens: int, budget: int) -> None:
        super().__init__(f"prompt needs about {tokens} tokens; the budget is {budget}")
        self.tokens = tokens
        self.budget = budget


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[ChatMessage]
    tokens: int
    dropped_turns: int


def group_turns(history: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Split stored history into turns, each starting at a user message."""
    turns: list[list[ChatMessage]] = []
    for message in history:
        if message.role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


def build_prompt(
    system_prompt: str,
    history: Sequence[ChatMessage],
    user_text: str,
    *,
    context_window: int,
    max_tokens: int,
    history_turns: int,
    history_tokens: int | None = None,
    images: Sequence[Image] = (),
) -> Prompt:
    """Keep the system prompt and the new message; drop the oldest turns to fit.

    The budget is the context window less the tokens reserved for the reply.
    Raises PromptTooLong when even the system prompt and the new message
    alone do not fit.
    """
    system = [ChatMessage("system", system_prompt)] if system_prompt.strip() else []
    user = ChatMessage("user", user_text, tuple(images))
    budget = context_window - max_tokens
    fixed = sum(message_tokens(m) for m in system) + message_tokens(user) + REPLY_PRIMING
    if fixed > budget:
        raise PromptTooLong(fixed, budget)
    room = budget - fixed
    if history_tokens is not None:
        room = min(room, history_tokens)

    turns = group_turns(history)
    kept: list[list[ChatMessage]] = []
    used = 0
    for turn in reversed(turns[-history_turns:] if history_turns else []):
        cost = sum(message_tokens(m) for m in turn)
        if used + cost > room:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    messages = system + [m for turn in kept for m in turn] + [user]
    return Prompt(messages, fixed + used, len(turns) - len(kept))
