"""The model both bots talk to: the tests' fake OpenAI-compatible server, answering every request the same way.

Each answer names the question it answers (``a00017`` for ``q00017``), so that the platform fakes can tell
which reply a text belongs to, and is ``ANSWER_CHARS`` long, streamed in ``CHUNKS`` chunks spread over the
phase's stream time (0: all at once).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from bench.backlog import widen_backlog
from tests.support.fake_openai import Behaviour, FakeOpenAI, Reply

CHUNKS = 20
ANSWER_CHARS = 240
FILLER = "the quick brown fox jumps over the lazy dog while the model keeps writing its answer "
QUESTION = re.compile(r"q(\d{5})")


def question(number: int) -> str:
    return f"q{number:05d}"


def answer(number: int) -> str:
    """The full text the model answers to ``question(number)``."""
    head = f"a{number:05d} "
    body = (FILLER * (ANSWER_CHARS // len(FILLER) + 1))[: ANSWER_CHARS - len(head)]
    return (head + body).strip()


def _answer_to(body: dict[str, Any]) -> str:
    """The answer to the last question in the request (its newest user message names it)."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            found = QUESTION.findall(str(message.get("content", "")))
            if found:
                return answer(int(found[-1]))
    return answer(0)


class _Always(deque[Behaviour]):
    """A queue that never runs dry: every request takes ``current``."""

    def __init__(self, current: Behaviour) -> None:
        super().__init__()
        self.current = current

    def __bool__(self) -> bool:
        return True

    def popleft(self) -> Behaviour:
        return self.current


class BenchModel(FakeOpenAI):
    """``FakeOpenAI`` whose every chat completion is the answer to its question, streamed over ``stream_seconds``."""

    def __init__(self) -> None:
        super().__init__()
        self._always = _Always(self._reply(0.0))
        self._queue = self._always

    async def start(self) -> None:
        await super().start()
        widen_backlog(self._runner)

    @staticmethod
    def _reply(stream_seconds: float) -> Reply:
        chunk = -(-ANSWER_CHARS // CHUNKS)
        return Reply(_answer_to, chunk_size=chunk, delay=stream_seconds / (CHUNKS - 1))

    def stream_over(self, seconds: float) -> None:
        """From now on each answer takes ``seconds`` from its first chunk to its last."""
        self._always.current = self._reply(seconds)
