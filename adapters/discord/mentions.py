"""Broadcast mentions made harmless as text in everything parley writes to Discord.

``@everyone`` and ``@here`` in a model's answer, a notice, a command's answer or a thread's name get a
zero-width space after the ``@``: they read the same but are plain words, not a broadcast. The
``AllowedMentions.none()`` that goes with every send and edit stops the notification itself (and that
of user and role mentions, ``<@id>`` and ``<@&id>``, which are left as they are); this keeps the text
harmless even where no allowed mentions apply, and keeps it from looking like a broadcast.
"""

from __future__ import annotations

import re

ZERO_WIDTH_SPACE = "\u200b"
_BROADCAST = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
"""An ``@`` that starts a broadcast (Discord's are lowercase; any case is broken, to be safe). Linear time."""


def neutralised(text: str) -> str:
    """``text`` with every ``@everyone`` and ``@here`` broken by a zero-width space (already broken ones stay)."""
    return _BROADCAST.sub("@" + ZERO_WIDTH_SPACE, text)


def shown_length(text: str) -> int:
    """How long ``text`` is once neutralised: what Discord's 2,000-character limit counts (``SinkLimits.measure``)."""
    return len(text) + sum(1 for _ in _BROADCAST.finditer(text))
