"""The namespaced key-value space the store hands to adapters, on a real Redis."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from bot.store import KINDS, Store


async def test_values_are_json_under_the_namespace(store: Store, redis: Redis, prefix: str) -> None:
    space = store.namespace("chat")
    await space.set("a:b", {"name": "Zoë", "n": 3})
    assert await redis.get(f"{prefix}:chat:a:b") == '{"name": "Zoë", "n": 3}'.encode()
    assert await space.get("a:b") == {"name": "Zoë", "n": 3}
    assert await redis.ttl(f"{prefix}:chat:a:b") == -1, "no TTL unless one is given"
    assert await space.get("missing") is None
    assert await store.namespace("other").get("a:b") is None, "namespaces do not see each other's keys"


async def test_a_ttl_is_kept_and_refreshed_on_request(store: Store, redis: Redis, prefix: str) -> None:
    space = store.namespace("chat")
    await space.set("k", "v", ttl_seconds=100)
    assert 0 < await redis.ttl(f"{prefix}:chat:k") <= 100
    assert await space.get("k") == "v"
    assert await redis.ttl(f"{prefix}:chat:k") <= 100, "a plain get leaves the TTL alone"
    assert await space.get_refreshing("k", 500) == "v"
    assert 100 < await redis.ttl(f"{prefix}:chat:k") <= 500
    assert await space.get_refreshing("gone", 500) is None
    assert not await redis.exists(f"{prefix}:chat:gone"), "refreshing creates nothing"


async def test_delete_says_whether_the_key_was_there(store: Store) -> None:
    space = store.namespace("chat")
    await space.set("k", 1)
    assert await space.delete("k") is True
    assert await space.delete("k") is False
    assert await space.get("k") is None


async def test_a_claim_is_true_once_until_it_expires(store: Store, redis: Redis, prefix: str) -> None:
    space = store.namespace("chat")
    assert await space.claim("once", 60) is True
    assert await space.claim("once", 60) is False
    assert 0 < await redis.ttl(f"{prefix}:chat:once") <= 60
    await redis.delete(f"{prefix}:chat:once")  # as if it had expired
    assert await space.claim("once", 60) is True


async def test_a_value_that_is_not_json_reads_as_absent(
    store: Store, redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.keyvalue")
    await redis.set(f"{prefix}:chat:old", "plain text from an older format", ex=100)
    space = store.namespace("chat")
    assert await space.get("old") is None
    assert await space.get_refreshing("old", 500) is None
    assert f"{prefix}:chat:old does not hold JSON" in caplog.text


@pytest.mark.parametrize("name", ["", "a:b", *KINDS])
def test_a_namespace_cannot_overlap_the_stores_own_keys(store: Store, name: str) -> None:
    with pytest.raises(ValueError):
        store.namespace(name)
