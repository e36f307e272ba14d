"""The model's Markdown as Slack mrkdwn, with the md2mrkdwn library.

Bold, italics, strikethrough, links, headings (bold lines), lists (bullets) and
tables (as a code block) are converted; code fences and inline code are kept as
they are. ``**bold**`` becomes ``*bold*``, ``[label](url)`` becomes ``<url|label>``.

Before the library runs, what it gets wrong in real model output is set right
(``prepare``): ``* item`` bullets and a lone ``*`` (``2 * 3``) are not emphasis,
backslash escapes (``\\*``) show the bare character, ``~~~`` fences become the
backquote fences Slack knows (their code left alone), a fence's language name is
dropped (Slack has no highlighting and would show it as code), and parentheses inside a
link's URL (Wikipedia's ``Foo_(bar)``) no longer end the link early.

First, Slack's three control characters are escaped, as its API requires
(``&`` ``<`` ``>`` as ``&amp;`` ``&lt;`` ``&gt;``), so ``<div>`` in an answer is shown
rather than swallowed. Kept as they are: Slack's references to a user or a channel (``<@U1>``,
``<#C1>``), autolinks (``<https://...>``) and ``>`` that starts a quote. Broadcast mentions
(``<!channel>``, ``<!here>``, ``<!everyone>``, ``<!subteam^S1|@team>``: every ``<!...>``) are
escaped too, so they show as text: a model must never notify a whole channel. Text Slack reads as
Markdown, not mrkdwn (a native stream's), is ``defused`` instead.
"""

from __future__ import annotations

import re

from md2mrkdwn import MrkdwnConverter

_SLACK_REFERENCE = re.compile(r"<(?:[@#][A-Za-z0-9^|@._-]+|(?:https?|mailto):[^<>\s]+)>")
_QUOTE = re.compile(r"^([ \t]*(?:>[ \t]?)+)", re.MULTILINE)
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})(.*)$")
_STAR_BULLET = re.compile(r"^([ \t]*)\*([ \t]+)")
_LONE_STAR = re.compile(r"(?<=\s)\*(?=\s)")
_ESCAPED = re.compile(r"\\([*_~`\\])")
_LINK_URL = re.compile(r"\]\(((?:[^()\s]|\([^()\s]*\))+)\)")
_LITERAL = {"*": "\ue000", "_": "\ue001", "~": "\ue002", "`": "\ue003", "\\": "\ue004"}
"""Characters to show as they are, hidden from the library in private-use code points."""


BROADCAST = "<!"
DEFUSED = "<\u2060!"
"""``<!`` with an invisible word joiner inside: shown the same, never read as a broadcast mention."""


def defuse(text: str) -> str:
    """Text that Slack takes as it is (a native stream's Markdown, plain text), with no ``<!...>`` mention left.

    Growing text stays growing: what ``defuse`` makes of a text starts with what it made of any start of it, so
    a stream appends to what it sent (a text ending in ``<`` is a start of its defused longer self).
    """
    return text.replace(BROADCAST, DEFUSED)


def prepare(markdown: str) -> str:
    """Markdown the library converts correctly: see the module's docstring. Code is left alone."""
    out: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        found = _FENCE.match(line)
        if found and found.group(2)[0] == "`" and "`" in found.group(3):
            found = None  # ```code``` on one line: not a fence (CommonMark)
        if fence is None and found:
            fence = found.group(2)
            out.append(f"{found.group(1)}```")  # Slack shows a language name as the block's first line: dropped
        elif fence is not None:
            closing = found is not None and found.group(2).startswith(fence) and not found.group(3).strip()
            out.append(f"{found.group(1)}```" if closing and found is not None else line)
            fence = None if closing else fence
        else:
            out.append(_prepare_line(line))
    return "\n".join(out)


def _prepare_line(line: str) -> str:
    parts = re.split(r"(`[^`]*`)", line)  # inline code stays as it is
    for index in range(0, len(parts), 2):
        text = _ESCAPED.sub(lambda m: _LITERAL[m.group(1)], parts[index])
        if index == 0:
            text = _STAR_BULLET.sub(r"\1-\2", text)
        text = _LONE_STAR.sub(_LITERAL["*"], text)
        parts[index] = _LINK_URL.sub(lambda m: "](" + m.group(1).replace("(", "%28").replace(")", "%29") + ")", text)
    return "".join(parts)


def _restore(mrkdwn: str) -> str:
    for char, hidden in _LITERAL.items():
        mrkdwn = mrkdwn.replace(hidden, char)
    return mrkdwn


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
        converted: str = _restore(self._converter.convert(prepare(escape(markdown))))
        return converted if converted.strip() else defuse(markdown)

    def length(self, markdown: str) -> int:
        """How long the text is as Slack receives it: the 3,500-character limit holds for this."""
        return len(self(markdown))
