"""The model's Markdown as Slack mrkdwn, with the md2mrkdwn library.

Bold, italics, strikethrough, links, headings (bold lines), lists (bullets) and
tables (as a code block) are converted; code fences and inline code are kept as
they are. ``**bold**`` becomes ``*bold*``, ``[label](url)`` becomes ``<url|label>``.
"""

from __future__ import annotations

from md2mrkdwn import MrkdwnConverter


class Mrkdwn:
    """One converter per adapter (the library's converter keeps state while it converts)."""

    def __init__(self) -> None:
        self._converter = MrkdwnConverter()

    def __call__(self, markdown: str) -> str:
        converted: str = self._converter.convert(markdown)
        return converted if converted.strip() else markdown
