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
_FENCE_START = re.compile(r" {0,3}(?:`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class Fence:
    marker: str
    info: str

    def opening(self) -> str:
        return f"{self.marker}{self.info}"

    def closed_by(self, line: str) -> bool:
        found = _FENCE.match(line)
        if not found:
            return False
        marker, info = found.group(1), found.group(2)
        return marker[0] == self.marker[0] and len(marker) >= len(self.marker) and not info.strip()


def _fence_at_end(text: str) -> tuple[Fence, int] | None:
    """The code fence still open at the end of ``text`` and where its opening line starts."""
    fence: Fence | None = None
    start = position = 0
    for line in text.split("\n"):
        if fence is None:
            found = _FENCE.match(line)
            if found:
                fence, start = Fence(found.group(1), found.group(2).strip()), position
        elif fence.closed_by(line):
            fence = None
        position += len(line) + 1
    return None if fence is None else (fence, start)


def open_fence(text: str) -> Fence | None:
    """The code fence still open at the end of ``text``, if any."""
    found = _fence_at_end(text)
    return None if found is None else found[0]


def _starts_fence(text: str, at: int) -> bool:
    """Whether cutting at ``at`` would start the next part with a fence that is not a fence in ``text``."""
    return text[at - 1 : at] != "\n" and _FENCE_START.match(text, at) is not None


def _cut_point(text: str, window: int, floor: int) -> tuple[int, int]:
    """Where to cut (at or above ``floor``), and how many separator characters to drop there."""
    for separator in ("\n\n", "\n"):
        at = text.rfind(separator, 0, window)
        if at >= floor:
            return at, len(separator)
    at = text.rfind(" ", 0, window)
    while at >= floor:
        if not _starts_fence(text, at + 1):
            return at, 1
        at = text.rfind(" ", 0, at)
    at = window
    while at > floor and _starts_fence(text, at):
        at -= 1
    return at, 0


def _reopen(fence: Fence, tail: str) -> str:
    """The rest of a code block cut at its end, as a part of its own."""
    first, _, after = tail.partition("\n")
    if fence.closed_by(first):  # the block ends right there: nothing to reopen
        return after.lstrip("\n")
    return f"{fence.opening()}\n{tail}"


def cut(text: str, limit: int) -> tuple[str, str]:
    """Split ``text`` into a head of at most ``limit`` characters and the rest.

    The rest is always shorter than ``text``, so cutting again makes progress.
    """
    if limit < MIN_LIMIT:
        raise ValueError(f"message limit {limit} is below the minimum of {MIN_LIMIT}")
    if len(text) <= limit:
        return text, ""
    window, floor = limit, limit // 3
    while floor < window:
        at, skip = _cut_point(text, window, floor)
        head, tail = text[:at].rstrip(), text[at + skip :].lstrip("\n")
        found = _fence_at_end(head)
        if found is None:
            return head, tail
        fence, start = found
        if "\n" not in head[start:]:
            # The block opens on the head's last line: rather than an empty block, start it in the next part.
            if text[:start].strip():
                return text[:start].rstrip(), text[start:]
            floor = max(floor + 1, len(head) + 1)  # the text starts with the block: cut inside its code
            continue
        closing = f"\n{fence.marker}"
        if len(head) + len(closing) <= limit:
            return head + closing, _reopen(fence, tail)
        window = limit - len(closing)
    return text[:limit], text[limit:]  # a fence too long to close and reopen: cut it bare


def split(text: str, limit: int) -> list[str]:
    """Every message needed to send ``text``, none empty, each within ``limit``."""
    parts: list[str] = []
    rest = text
    while rest.strip():
        head, after = cut(rest, limit)
        if len(after) >= len(rest):  # cannot happen (cut always makes progress), but never loop forever
            head, after = rest[:limit], rest[limit:]
        rest = after
        if head.strip():
            parts.append(head)
    return parts
