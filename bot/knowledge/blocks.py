"""Pure: a text's headings and paragraphs, the blocks a document's sections are made of."""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True, slots=True)
class Block:
    """A heading (``level`` 1 to 6) or a paragraph (``level`` 0) of a document."""

    level: int
    text: str


def paragraphs(text: str) -> list[Block]:
    """Plain text's paragraphs (separated by blank lines)."""
    return [Block(0, part.strip()) for part in re.split(r"\n\s*\n", text) if part.strip()]


def markdown_blocks(text: str) -> list[Block]:
    """Markdown's headings and paragraphs; a ``#`` inside a code fence is not a heading."""
    blocks: list[Block] = []
    lines: list[str] = []
    fenced = False

    def flush() -> None:
        blocks.extend(paragraphs("\n".join(lines)))
        lines.clear()

    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(len(heading.group(1)), heading.group(2)))
        else:
            lines.append(line)
    flush()
    return blocks
