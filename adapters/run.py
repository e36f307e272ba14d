"""``parley run``: the chat platforms, side by side in one process, behind one HTTP server; ``parley worker``.

Each platform's module offers ``create(conversation, environ)`` (its adapter: the ingress, which
queues what it accepts) and ``create_handler(conversation, environ)`` (its ``JobHandler``: the worker
side, which answers queued jobs through the platform's Web/REST API). ``parley run`` runs both, with a
``Worker`` beside the adapters (not with ``--ingress-only``); ``parley worker`` runs only the workers.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any, Protocol, cast

from aiohttp import web

from adapters.http_server import listening
from adapters.platform import READY, PlatformAdapter, readiness
from adapters.web import mount as mount_console
from bot.api import (
    METRICS_CONTENT_TYPE,
    Config,
    ConfigError,
    Conversation,
    JobHandler,
    Worker,
    open_conversation,
)

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


class _HandlerFactory(Protocol):
    def __call__(self, conversation: Conversation, environ: Mapping[str, str]) -> JobHandler: ...


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


async def serve(
    config: Config,
    environ: Mapping[str, str],
    names: Sequence[str],
    host: str,
    port: int,
    *,
    ingress_only: bool = False,
) -> int:
    """The platforms' adapters, and (unless ``ingress_only``) a worker answering their queued jobs. On a
    signal the adapters stop first; then the worker finishes its jobs in hand (``[queue] drain_seconds``)."""
    async with open_conversation(config, environ, join=ingress_only) as conversation:
        adapters = [_module(name).create(conversation, environ) for name in names]
        handlers = {} if ingress_only else _handlers(conversation, environ, names, required=False, adapters=adapters)
        app = web.Application()
        app.router.add_get("/healthz", _healthz(conversation, [adapter.name for adapter in adapters]))
        app.router.add_get("/readyz", _readyz(conversation, adapters))
        app.router.add_get("/metrics", _metrics(conversation))
        for adapter in adapters:
            adapter.mount(app)
        mount_console(app, conversation, environ)
        stop = asyncio.Event()
        working = asyncio.create_task(conversation.worker(handlers, consumer_name()).run(stop)) if handlers else None
        try:
            async with listening(app, host, port):
                log.info("parley is running %s; HTTP on %s:%d", ", ".join(names), host, port)
                await _until_stopped(_run_adapters(adapters), stop)
        finally:
            if working is not None:
                stop.set()
                try:
                    await working
                finally:
                    await _close(handlers)
    return 0


async def _until_stopped(adapters: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Run the adapters; when a signal stops them, the worker is told at once to take no new job (it finishes
    the ones in hand while the adapters finish theirs), rather than only once the adapters have stopped."""
    running = asyncio.create_task(adapters)
    try:
        await asyncio.wait([running])
    except asyncio.CancelledError:
        stop.set()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        raise
    running.result()


async def _run_adapters(adapters: Sequence[PlatformAdapter]) -> None:
    try:
        async with asyncio.TaskGroup() as group:
            for adapter in adapters:
                group.create_task(adapter.run())
    except ExceptionGroup as errors:  # not ``except*``: what that raises is wrapped in a group again
        problems = errors.subgroup(ConfigError)
        if problems is None:
            raise
        raise _first(problems) from None


async def serve_worker(
    config: Config, environ: Mapping[str, str], names: Sequence[str], host: str, port: int | None
) -> int:
    """``parley worker``: answer the queued jobs of ``names``' platforms until a signal, then drain; ``/healthz``
    on ``port`` (no HTTP server without one)."""
    async with open_conversation(config, environ, join=True) as conversation, AsyncExitStack() as opened:
        handlers = _handlers(conversation, environ, names, required=True)
        for handler in handlers.values():  # one with connections of its own keeps them while the worker runs
            if isinstance(handler, AbstractAsyncContextManager):
                await opened.enter_async_context(handler)
        worker = conversation.worker(handlers, consumer_name())
        stop = asyncio.Event()
        working = asyncio.create_task(worker.run(stop))
        app = web.Application()
        app.router.add_get("/healthz", _worker_healthz(conversation, worker, list(names)))
        app.router.add_get("/readyz", _worker_readyz(conversation, worker, list(names)))
        app.router.add_get("/metrics", _metrics(conversation))
        try:
            if port is None:
                await asyncio.shield(working)
            else:
                async with listening(app, host, port):
                    log.info("parley worker %s answers %s; HTTP on %s:%d", worker.consumer, ", ".join(names), host,
                             port)  # fmt: skip
                    await asyncio.shield(working)
        finally:
            stop.set()
            await working
    return 0


def consumer_name() -> str:
    """This process's name among the queue's workers: host and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _handlers(
    conversation: Conversation,
    environ: Mapping[str, str],
    names: Sequence[str],
    *,
    required: bool,
    adapters: Sequence[PlatformAdapter] = (),
) -> dict[str, JobHandler]:
    """Each platform's worker side, by platform (a module without one answers in its adapter's process
    unless ``required``): the adapter's own (``worker``: sharing its session and budgets) when it runs here."""
    handlers: dict[str, JobHandler] = {}
    own: dict[str, JobHandler | None] = {adapter.name: getattr(adapter, "worker", None) for adapter in adapters}
    for name in names:
        found = own.get(name)
        if found is not None:
            handlers[found.platform] = found
            continue
        factory = cast(_HandlerFactory | None, getattr(importlib.import_module(PLATFORMS[name].module),
                                                       "create_handler", None))  # fmt: skip
        if factory is None:
            if required:
                raise ConfigError(f"the {name} platform cannot answer queued messages in a worker yet")
            continue
        handler = factory(conversation, environ)
        handlers[handler.platform] = handler
    return handlers


async def _close(handlers: Mapping[str, JobHandler]) -> None:
    """Once ``parley run``'s worker has stopped: a handler on its adapter's connection that must outlive the
    adapter until then (Discord's client) closes it (``aclose``)."""
    for handler in handlers.values():
        close = cast(Callable[[], Awaitable[None]] | None, getattr(handler, "aclose", None))
        if close is not None:
            await close()


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


def _worker_healthz(
    conversation: Conversation, worker: Worker, names: list[str]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def healthz(request: web.Request) -> web.Response:
        redis = await conversation.ping()
        body = {"ok": redis, "redis": redis, "platforms": names, "worker": worker.consumer, "busy": worker.busy}
        return web.json_response(body, status=200 if redis else 503)

    return healthz


def _readyz(
    conversation: Conversation, adapters: Sequence[PlatformAdapter]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``/readyz``: 200 only when Redis answers and every platform is connected; else 503, saying what is not."""

    async def readyz(request: web.Request) -> web.Response:
        redis = await conversation.ping()
        platforms = {adapter.name: await readiness(adapter) for adapter in adapters}
        ready = redis and all(state == READY for state in platforms.values())
        body = {"ready": ready, "redis": redis, "platforms": platforms}
        return web.json_response(body, status=200 if ready else 503)

    return readyz


def _worker_readyz(
    conversation: Conversation, worker: Worker, names: list[str]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A worker's ``/readyz``: its handlers opened (a Discord REST login) before the server listened, so it is
    ready when Redis answers."""

    async def readyz(request: web.Request) -> web.Response:
        redis = await conversation.ping()
        body = {"ready": redis, "redis": redis, "platforms": dict.fromkeys(names, READY), "worker": worker.consumer}
        return web.json_response(body, status=200 if redis else 503)

    return readyz


def _metrics(conversation: Conversation) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``/metrics``: this process's counters, and the queue's gauges read from Redis now."""

    async def metrics(request: web.Request) -> web.Response:
        await conversation.metrics.refresh(conversation.queue)
        return web.Response(body=conversation.metrics.render(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    return metrics
