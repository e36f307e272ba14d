"""Pure: a document cut into passages, the units that are searched and put in the prompt."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from bot.knowledge.documents import Document

MAX_WORDS = 180
"""A passage's words at most: a few paragraphs, a screenful, about 250 tokens."""


@dataclass(frozen=True, slots=True)
class Passage:
    document: str
    """The document's path in its folder (with /)."""
    title: str
    """The document's title."""
    heading: str
    """The headings the passage sits under in the document ("" for none)."""
    text: str

    @property
    def label(self) -> str:
        """The title, with the headings when there are any: ``VPN > Connecting from home``."""
        return f"{self.title} > {self.heading}" if self.heading else self.title

    @property
    def searched(self) -> str:
        """What the index reads: the title and headings count twice, being what the passage is about."""
        return f"{self.label}\n{self.label}\n{self.text}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Passage:
        return cls(str(value["document"]), str(value["title"]), str(value["heading"]), str(value["text"]))


def passages(relative: str, document: Document, max_words: int = MAX_WORDS) -> list[Passage]:
    """Each section's paragraphs, joined up to ``max_words`` a passage; a longer paragraph is cut by words."""
    found: list[Passage] = []
    for section in document.sections:
        for text in _pieces(section.text, max_words):
            found.append(Passage(relative, document.title, section.heading, text))
    return found


def _pieces(text: str, max_words: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in (part.strip() for part in re.split(r"\n\s*\n", text)):
        words = paragraph.split()
        if not words:
            continue
        if count and count + len(words) > max_words:
            pieces.append("\n\n".join(current))
            current, count = [], 0
        if len(words) > max_words:
            while len(words) > max_words:
                pieces.append(" ".join(words[:max_words]))
                words = words[max_words:]
            paragraph = " ".join(words)
        current.append(paragraph)
        count += len(words)
    if current:
        pieces.append("\n\n".join(current))
    return pieces
