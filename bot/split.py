"""Cutting an over-long reply into messages a platform accepts: pure logic.

A cut prefers a paragraph break, then a line break, then a space. A cut that
falls inside a fenced code block closes the fence at the end of the first
part and reopens it, with the same language, at the start of the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_LIMIT = 40
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


@dataclass(frozen=True, slots=True)
class Fence:
    marker: str
    info: str

    def opening(self) -> str:
        return f"{self.marker}{self.info}"


def open_fence(text: str) -> Fence | None:
    """The code fence still open at the end of ``text``, if any."""
    fence: Fence | None = None
    for line in text.split("\n"):
        found = _FENCE.match(line)
        if not found:
            continue
        marker, info = found.group(1), found.group(2)
        if fence is None:
            fence = Fence(marker, info.strip())
        elif marker[0] == fence.marker[0] and len(marker) >= len(fence.marker) and not info.strip():
            fence = None
    return fence


def _cut_point(text: str, window: int) -> tuple[int, int]:
    """Where to cut, and how many separator characters to drop there."""
    floor = window // 3
    for separator in ("\n\n", "\n", " "):
        at = text.rfind(separator, 0, window)
        if at >= floor:
            return at, len(separator)
    return window, 0


def cut(text: str, limit: int) -> tuple[str, str]:
    """Split ``text`` into a head of at most ``limit`` characters and the rest."""
    if limit < MIN_LIMIT:
        raise ValueError(f"message limit {limit} is below the minimum of {MIN_LIMIT}")
    if len(text) <= limit:
        return text, ""
    window = limit
    while True:
        at, skip = _cut_point(text, window)
        head, tail = text[:at].rstrip(), text[at + skip :].lstrip("\n")
        fence = open_fence(head)
        if fence is None:
            return head, tail
        closing = f"\n{fence.marker}"
        if len(head) + len(closing) <= limit:
            return head + closing, f"{fence.opening()}\n{tail}"
        window = limit - len(closing)


def split(text: str, limit: int) -> list[str]:
    """Every message needed to send ``text``, none empty, each within ``limit``."""
    parts: list[str] = []
    rest = text
    while rest.strip():
        head, after = cut(rest, limit)
        if len(after) >= len(rest):  # a fence too long to reopen: cut it bare
            head, after = rest[:limit], rest[limit:]
        rest = after
        if head.strip():
            parts.append(head)
    return parts
