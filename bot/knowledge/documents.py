"""A knowledge folder's files as documents: a title and sections under their headings.

Markdown headings and front matter, HTML's ``<title>`` and ``<h1>``-``<h6>``, else the file's name give
the titles (a PDF's metadata title is too often a word processor's file name to be used). Reading is CPU
work (pypdf through ``bot/file_text.py``): run ``read_document`` in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from bot.file_text import decoded, pdf_text
from bot.knowledge.blocks import Block, markdown_blocks, paragraphs
from bot.knowledge.html_text import html_blocks

KINDS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html",
         ".htm": "html", ".pdf": "pdf"}  # fmt: skip
"""The files a knowledge folder's index reads, by suffix; others are left out."""
MAX_PDF_PAGES = 1000
FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    """The headings this text sits under, below the document's title (``Setup > On macOS``); "" for none."""
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    sections: tuple[Section, ...]


def kind_of(relative: str) -> str | None:
    return KINDS.get(PurePosixPath(relative).suffix.lower())


def read_document(relative: str, data: bytes) -> Document:
    """The document in a file's bytes (``relative``: its path in the folder); raises Unreadable."""
    kind = kind_of(relative)
    fallback = title_from_name(relative)
    if kind == "pdf":
        text, _ = pdf_text(data, MAX_PDF_PAGES)
        return sectioned(fallback, paragraphs(text))
    text = decoded(data)
    if kind == "html":
        title, blocks = html_blocks(text)
        return sectioned(title or fallback, blocks)
    if kind == "markdown":
        front, body = _front_matter(text)
        return sectioned(front or fallback, markdown_blocks(body), title_from_heading=front is None)
    return sectioned(fallback, paragraphs(text))


def title_from_name(relative: str) -> str:
    """``it/vpn-setup.md`` -> ``Vpn setup``: the title of a document that names none."""
    words = re.sub(r"[-_]+", " ", PurePosixPath(relative).stem).strip()
    return (words[:1].upper() + words[1:]) if words else relative


def sectioned(title: str, blocks: Iterable[Block], *, title_from_heading: bool = True) -> Document:
    """Paragraphs grouped under their headings. The first level-1 heading before any text is the title."""
    blocks = list(blocks)
    if title_from_heading and blocks and blocks[0].level == 1:
        title, blocks = blocks[0].text, blocks[1:]
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    texts: list[str] = []

    def close() -> None:
        if texts:
            sections.append(Section(" > ".join(heading for _, heading in path), "\n\n".join(texts)))
            texts.clear()

    for block in blocks:
        if block.level == 0:
            texts.append(block.text)
            continue
        close()
        path = [entry for entry in path if entry[0] < block.level] + [(block.level, block.text)]
    close()
    return Document(title.strip() or "untitled", tuple(sections))


def _front_matter(text: str) -> tuple[str | None, str]:
    """A Markdown file's YAML front matter title, if any, and the text after the front matter."""
    if not text.startswith("---\n"):
        return None, text
    end = text.find("\n---", 4)
    if end < 0:
        return None, text
    found = FRONT_TITLE.search(text[4:end])
    title = found.group(1).strip("\"'") if found else None
    return title, text[end + 4 :].lstrip("-\n")
