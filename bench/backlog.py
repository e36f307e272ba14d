"""A listen backlog for the fakes that takes a burst of thousands of connections (aiohttp's default is 128)."""

from __future__ import annotations

import socket

from aiohttp import web

BACKLOG = 4096


def widen_backlog(runner: web.AppRunner | None) -> None:
    """Let every socket ``runner`` listens on queue ``BACKLOG`` connections: calling listen() again resizes it."""
    assert runner is not None
    for site in runner.sites:
        server = getattr(site, "_server", None)
        for transport_socket in getattr(server, "sockets", None) or ():
            # asyncio hands out a wrapper without listen(): a duplicate descriptor resizes the same queue
            fileno, family, kind = transport_socket.fileno(), transport_socket.family, transport_socket.type
            with socket.fromfd(fileno, family, kind) as duplicate:
                duplicate.listen(BACKLOG)
