"""An HTML page's title, headings and paragraphs (the standard library's parser; scripts and styles left out)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from bot.knowledge.blocks import Block

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BREAKS = {"p", "div", "li", "tr", "br", "section", "article", "pre", "blockquote", "table", "ul", "ol", "dd", "dt"}
SKIPPED = {"script", "style", "noscript", "template", "svg", "head"}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.parts: list[tuple[int, str]] = []
        self._text: list[str] = []
        self._skipping = 0
        self._in_title = False
        self._heading = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in SKIPPED:
            self._skipping += 1
        elif tag in HEADINGS:
            self._flush()
            self._heading = HEADINGS[tag]
        elif tag in BREAKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in HEADINGS or tag in BREAKS:
            self._flush()
            self._heading = 0

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self._text.append(data)

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._text)).strip()
        self._text.clear()
        if text:
            self.parts.append((self._heading, text))

    def close(self) -> None:
        super().close()
        self._flush()


def html_blocks(html: str) -> tuple[str | None, list[Block]]:
    """The page's ``<title>`` (or None) and its headings and paragraphs, in order."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    title = re.sub(r"\s+", " ", reader.title).strip() or None
    return title, [Block(level, text) for level, text in reader.parts]
