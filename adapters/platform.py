"""What ``parley run`` asks of a chat platform's adapter (Slack, Discord).

An adapter module offers ``create(conversation, environ) -> PlatformAdapter``.
It turns platform events into ``IncomingMessage``s for ``conversation.receive``
and implements a ``ReplySink`` per thread; it never builds prompts or Redis keys.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

from aiohttp import web

READY: Final = "ready"
"""A platform's state in ``/readyz`` when it can take events."""


class PlatformAdapter(Protocol):
    name: str

    def mount(self, app: web.Application) -> None:
        """Add the HTTP routes this platform needs to the process's one web server (if any)."""
        ...

    async def run(self) -> None:
        """Connect and serve until cancelled; raise ConfigError for a problem the user must fix."""
        ...


@runtime_checkable
class ReportsReadiness(Protocol):
    """An adapter's optional capability: whether it can take events now (``/readyz``)."""

    async def readiness(self) -> str | None:
        """None when connected (Slack's socket open, Discord's gateway identified); else why not, in a few words."""
        ...


async def readiness(adapter: PlatformAdapter) -> str:
    """``READY``, or why ``adapter`` cannot take events now; an adapter without ``readiness`` takes them
    whenever the process serves (an HTTP ingress)."""
    if not isinstance(adapter, ReportsReadiness):
        return READY
    return await adapter.readiness() or READY
