"""The model's Markdown as Slack mrkdwn, with the md2mrkdwn library.

Bold, italics, strikethrough, links, headings (bold lines), lists (bullets) and
tables (as a code block) are converted; code fences and inline code are kept as
they are. ``**bold**`` becomes ``*bold*``, ``[label](url)`` becomes ``<url|label>``.

First, Slack's three control characters are escaped, as its API requires
(``&`` ``<`` ``>`` as ``&amp;`` ``&lt;`` ``&gt;``), so ``<div>`` in an answer is shown
rather than swallowed. Kept as they are: Slack's own references (``<@U1>``,
``<#C1>``, ``<!here>``), autolinks (``<https://...>``) and ``>`` that starts a quote.
"""

from __future__ import annotations

import re

from md2mrkdwn import MrkdwnConverter

_SLACK_REFERENCE = re.compile(r"<(?:[@#!][A-Za-z0-9^|@._-]+|(?:https?|mailto):[^<>\s]+)>")
_QUOTE = re.compile(r"^([ \t]*(?:>[ \t]?)+)", re.MULTILINE)


def escape(text: str) -> str:
    """Slack's escaping of ``&``, ``<`` and ``>``, leaving references, autolinks and quote markers alone."""
    parts: list[str] = []
    position = 0
    for found in _SLACK_REFERENCE.finditer(text):
        parts.append(_escape_plain(text[position : found.start()], line_start=_starts_line(text, position)))
        parts.append(found.group(0))
        position = found.end()
    parts.append(_escape_plain(text[position:], line_start=_starts_line(text, position)))
    return "".join(parts)


def _starts_line(text: str, position: int) -> bool:
    return position == 0 or text[position - 1] == "\n"


def _escape_plain(text: str, *, line_start: bool) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    quotes = {
        found.start(): found.group(1)
        for found in _QUOTE.finditer(text)
        if ">" in found.group(1) and (line_start or found.start() > 0)
    }
    if not quotes:
        return text.replace(">", "&gt;")
    lines = text.split("\n")
    out: list[str] = []
    offset = 0
    for line in lines:
        marker = quotes.get(offset, "")
        out.append(marker + line[len(marker) :].replace(">", "&gt;"))
        offset += len(line) + 1
    return "\n".join(out)


class Mrkdwn:
    """One converter per adapter (the library's converter keeps state while it converts)."""

    def __init__(self) -> None:
        self._converter = MrkdwnConverter()

    def __call__(self, markdown: str) -> str:
        converted: str = self._converter.convert(escape(markdown))
        return converted if converted.strip() else markdown
