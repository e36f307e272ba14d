"""What ``parley run`` asks of a chat platform's adapter (Slack, Discord).

An adapter module offers ``create(conversation, environ) -> PlatformAdapter``.
It turns platform events into ``IncomingMessage``s for ``conversation.receive``
and implements a ``ReplySink`` per thread; it never builds prompts or Redis keys.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web


class PlatformAdapter(Protocol):
    name: str

    def mount(self, app: web.Application) -> None:
        """Add the HTTP routes this platform needs to the process's one web server (if any)."""
        ...

    async def run(self) -> None:
        """Connect and serve until cancelled; raise ConfigError for a problem the user must fix."""
        ...
