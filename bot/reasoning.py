"""Keeping a reasoning model's thinking out of its answer: pure, incremental, no I/O.

Models such as DeepSeek-R1, QwQ or Qwen3 served through an OpenAI-compatible
API write their reasoning into the text itself, as a ``<think>...</think>``
block before the answer. ``ThinkFilter`` splits streamed text into answer and
reasoning pieces as it arrives, however the chunks cut it (a tag may be split
mid-tag across chunks). A block counts only before the answer begins: once the
answer has started, ``<think>`` is ordinary text (a model explaining the tag).

``ReasoningQuote`` formats reasoning for a channel that wants to see it: a quoted
block before the answer, readable in every platform's markup and in a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

OPEN = "<think>"
CLOSE = "</think>"
QUOTE_HEADER = "> _thinking…_\n> "
QUOTE_END = "\n\n"


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    reasoning: bool
    """True: the model's thinking; False: its answer."""


class _State(Enum):
    BEFORE = "before the answer"
    INSIDE = "inside a think block"
    ANSWER = "in the answer"


def _partial(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` could be the start of ``tag`` (case-insensitive)."""
    lowered = text[-len(tag) :].lower()
    for size in range(min(len(tag) - 1, len(lowered)), 0, -1):
        if lowered.endswith(tag[:size]):
            return size
    return 0


class ThinkFilter:
    """Splits streamed text into answer and reasoning pieces.

    ``feed`` returns what can be decided so far and holds back only what might
    still turn out to be a tag (or leading whitespace before a possible block);
    ``flush`` at the end of the stream returns the rest. Whitespace between a
    closed block and the answer is dropped.
    """

    def __init__(self) -> None:
        self._state = _State.BEFORE
        self._held = ""
        self._had_block = False

    def feed(self, chunk: str) -> list[Piece]:
        self._held += chunk
        pieces: list[Piece] = []
        while self._held:
            if self._state is _State.ANSWER:
                pieces.append(Piece(self._held, False))
                self._held = ""
            elif self._state is _State.INSIDE:
                if not self._inside(pieces):
                    break
            elif not self._before(pieces):
                break
        return pieces

    def _before(self, pieces: list[Piece]) -> bool:
        """Before the answer: a block opens, the answer starts, or we wait for more (False)."""
        stripped = self._held.lstrip()
        if stripped.lower().startswith(OPEN):
            self._held = stripped[len(OPEN) :]
            self._state, self._had_block = _State.INSIDE, True
            return True
        if not stripped or OPEN.startswith(stripped.lower()):
            return False  # whitespace, or the start of "<think>": wait
        self._state = _State.ANSWER
        if self._had_block:
            self._held = stripped
        return True

    def _inside(self, pieces: list[Piece]) -> bool:
        """Inside a block: reasoning up to the closing tag; hold a possible half tag (False: wait)."""
        end = self._held.lower().find(CLOSE)
        if end >= 0:
            if end:
                pieces.append(Piece(self._held[:end], True))
            self._held = self._held[end + len(CLOSE) :]
            self._state = _State.BEFORE
            return True
        keep = _partial(self._held, CLOSE)
        decided = self._held[: len(self._held) - keep]
        if decided:
            pieces.append(Piece(decided, True))
        self._held = self._held[len(decided) :]
        return False

    def flush(self) -> list[Piece]:
        """The end of the stream: whatever is held is final (a half tag is plain text)."""
        held, self._held = self._held, ""
        if not held:
            return []
        if self._state is _State.INSIDE:
            return [Piece(held, True)]  # a block the model never closed: all of it was thinking
        if self._state is _State.BEFORE and self._had_block:
            held = held.lstrip()
        return [Piece(held, False)] if held else []


def strip_reasoning(text: str) -> str:
    """The answer part of a complete text (for non-streamed calls such as summaries)."""
    think = ThinkFilter()
    pieces = [*think.feed(text), *think.flush()]
    return "".join(piece.text for piece in pieces if not piece.reasoning)


class ReasoningQuote:
    """Formats shown reasoning as a quoted block before the answer, a piece at a time."""

    def __init__(self) -> None:
        self._quoting = False
        self._answering = False

    def reasoning(self, text: str) -> str:
        """Reasoning to show; nothing once the answer has begun (it would land in the middle of it)."""
        if self._answering or not text:
            return ""
        start = "" if self._quoting else QUOTE_HEADER
        self._quoting = True
        return start + text.replace("\n", "\n> ")

    def answer(self, text: str) -> str:
        """Answer text to show, after a blank line that ends the quoted block."""
        if not text:
            return ""
        start = QUOTE_END if self._quoting and not self._answering else ""
        self._answering = True
        return start + text
