"""``parley run``: the chat platforms, side by side in one process, behind one HTTP server."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from aiohttp import web

from adapters.http_server import listening
from adapters.platform import PlatformAdapter
from adapters.web import mount as mount_console
from bot.api import Config, ConfigError, Conversation, open_conversation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Platform:
    module: str
    """Imported only when the platform runs (``create(conversation, environ)``)."""
    token: str
    """The environment variable whose presence means this platform is wanted by ``parley run``."""


PLATFORMS: dict[str, Platform] = {
    "slack": Platform("adapters.slack", "SLACK_BOT_TOKEN"),
    "discord": Platform("adapters.discord", "DISCORD_BOT_TOKEN"),
}


class _AdapterModule(Protocol):
    def create(self, conversation: Conversation, environ: Mapping[str, str]) -> PlatformAdapter: ...


def chosen(platform: str | None, environ: Mapping[str, str]) -> list[str]:
    """The platform asked for, or every one whose token is set."""
    if platform is not None:
        return [platform]
    names = [name for name, found in PLATFORMS.items() if environ.get(found.token, "").strip()]
    if not names:
        tokens = ", ".join(f"{found.token} ({name})" for name, found in PLATFORMS.items())
        raise ConfigError(
            f"no chat platform is configured: set {tokens}, or name one (parley run slack). "
            "parley chat talks to the model in this terminal."
        )
    return names


async def serve(config: Config, environ: Mapping[str, str], names: Sequence[str], host: str, port: int) -> int:
    async with open_conversation(config, environ) as conversation:
        adapters = [_module(name).create(conversation, environ) for name in names]
        app = web.Application()
        app.router.add_get("/healthz", _healthz(conversation, [adapter.name for adapter in adapters]))
        for adapter in adapters:
            adapter.mount(app)
        mount_console(app, conversation, environ)
        async with listening(app, host, port):
            log.info("parley is running %s; HTTP on %s:%d", ", ".join(names), host, port)
            try:
                async with asyncio.TaskGroup() as group:
                    for adapter in adapters:
                        group.create_task(adapter.run())
            except ExceptionGroup as errors:  # not ``except*``: what that raises is wrapped in a group again
                problems = errors.subgroup(ConfigError)
                if problems is None:
                    raise
                raise _first(problems) from None
    return 0


def _first(group: BaseExceptionGroup[ConfigError]) -> ConfigError:
    found = group.exceptions[0]
    return found if isinstance(found, ConfigError) else _first(found)


def _module(name: str) -> _AdapterModule:
    return cast(_AdapterModule, importlib.import_module(PLATFORMS[name].module))


def _healthz(conversation: Conversation, names: list[str]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def healthz(request: web.Request) -> web.Response:
        redis = await conversation.ping()
        status = 200 if redis else 503
        return web.json_response({"ok": redis, "redis": redis, "platforms": names}, status=status)

    return healthz
