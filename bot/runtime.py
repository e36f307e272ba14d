"""Wiring for one process: Redis (given or embedded), the backends, the conversation core."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from bot.channels import Channels
from bot.commands import Commands
from bot.config import Config, ConfigError
from bot.conversation import Conversation
from bot.desk import Desk
from bot.desk_store import DeskStore
from bot.llm.registry import open_backend, open_backends
from bot.metrics import Metrics
from bot.model_catalog import ModelCatalog
from bot.queue import Queue
from bot.redis_retry import BoundedRetry, health_client
from bot.redis_server import RedisServer
from bot.settings import ChannelSettings
from bot.store import Store
from bot.threads import ChannelKey


def without_password(url: str) -> str:
    """A Redis URL fit for a message: any password (user:pass@ or ?password=) masked."""
    masked = re.sub(r"(?i)(password=)[^&]*", r"\1***", url)
    scheme, sep, rest = masked.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = f"***@{host.rpartition('@')[2]}"
    return f"{scheme}{sep}{host}{slash}{path}"


def pooled_redis(
    url: str, max_connections: int, retry_seconds: float = 0.0, on_error: Callable[[], None] | None = None
) -> Redis:
    """A client on a pool of at most ``max_connections`` that waits for a free connection when all are busy
    (redis-py's default pool raises MaxConnectionsError instead), and whose commands ride out a Redis
    that is gone for up to ``retry_seconds`` (``bot/redis_retry.py``). Closing the client closes the pool."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=None,
        retry=BoundedRetry(retry_seconds, on_error),
        retry_on_error=[],
    )
    return Redis.from_pool(pool)


@asynccontextmanager
async def open_redis(
    config: Config, *, join: bool = False, on_error: Callable[[], None] | None = None
) -> AsyncIterator[Redis]:
    """The configured Redis, or a private embedded one with its data in ``data_dir``.

    With ``join`` (the admin commands), the embedded Redis of a parley already
    running on ``data_dir`` is used rather than refused, and left running.
    """
    server = None
    url = config.redis_url
    if url is None:
        try:
            server = RedisServer(config.data_dir / "redis", join=join)
            url = await server.start()
        except (OSError, ValueError, RuntimeError) as error:
            raise ConfigError(
                f"cannot start the embedded Redis in {config.data_dir / 'redis'}: {error}\n"
                "Set PARLEY_DATA_DIR to another directory, or REDIS_URL to use a Redis server."
            ) from None
    try:
        client = pooled_redis(url, config.redis_max_connections, config.redis_retry_seconds, on_error)
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            raise ConfigError(f"cannot reach Redis at {without_password(url)}: {error}") from None
        try:
            yield client
        finally:
            await client.aclose()
    finally:
        # Runs even when a signal cancels the shutdown above: the embedded server never outlives parley.
        if server is not None:
            await server.stop()


@asynccontextmanager
async def open_store(
    config: Config, *, join: bool = False, on_error: Callable[[], None] | None = None
) -> AsyncIterator[Store]:
    async with open_redis(config, join=join, on_error=on_error) as redis:
        health = health_client(redis)
        try:
            yield Store(redis, config.redis_prefix, health=health)
        finally:
            await health.aclose()


@asynccontextmanager
async def open_conversation(
    config: Config, environ: Mapping[str, str], *, join: bool = False
) -> AsyncIterator[Conversation]:
    """The core on its Redis. With ``join`` (``parley worker``, an ingress-only ``parley run``), the embedded
    Redis of a parley already running on ``data_dir`` is shared, and started when none runs."""
    backends = open_backends(config, environ)
    metrics = Metrics()
    try:
        async with open_store(config, join=join, on_error=metrics.redis_error) as store:
            await store.migrate_keys()
            yield Conversation(config=config, store=store, backends=backends, metrics=metrics)
    finally:
        for backend in backends.values():
            await backend.aclose()


@asynccontextmanager
async def open_commands(config: Config, environ: Mapping[str, str]) -> AsyncIterator[Commands]:
    """The in-chat commands, for the command line: beside a running parley, on its embedded Redis.

    The backends are opened only so that a model can be checked against their
    lists and named in ``show``; one whose key is not set here just cannot list.
    """
    backends = {name: open_backend(name, found, found.api_key(environ)) for name, found in config.backends.items()}
    try:
        async with open_store(config, join=True) as store:
            channels = Channels(config, store, ModelCatalog(config, backends))
            yield Commands(config, store, channels, desk=_desk(config, store, channels))
    finally:
        for backend in backends.values():
            await backend.aclose()


@asynccontextmanager
async def open_desk(config: Config) -> AsyncIterator[Desk]:
    """The helpdesk's votes and numbers, for the command line (``parley feedback export``)."""
    async with open_store(config, join=True) as store:
        yield _desk(config, store, Channels(config, store))


def _desk(config: Config, store: Store, channels: Channels) -> Desk:
    async def settings_for(channel: ChannelKey) -> ChannelSettings:
        return (await channels.resolve(channel)).settings

    return Desk(config, DeskStore(store.redis, store.prefix), settings_for)


@asynccontextmanager
async def open_queue(config: Config) -> AsyncIterator[Queue]:
    """The durable queue, for the command line (``parley queue``): beside a running parley, on its Redis."""
    async with open_store(config, join=True) as store:
        yield Queue(store.redis, store.prefix, config.queue, config.dedup_seconds)
