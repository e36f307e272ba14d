"""What the Slack adapter keeps in Redis: the same keys as before namespaces, old values still read."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from adapters.slack.state import NAMESPACE, SlackState
from bot.store import Store


async def test_installations_keep_their_keys_and_format(store: Store, redis: Redis, prefix: str) -> None:
    # as an older parley stored it: json.dumps of the installation's fields
    await redis.set(f"{prefix}:slack:installation:-:T1", json.dumps({"team_id": "T1", "bot_token": "xoxb-old"}))
    state = SlackState(store.namespace(NAMESPACE))
    assert await state.installation(None, "T1") == {"team_id": "T1", "bot_token": "xoxb-old"}

    await state.save_installation("E1", None, {"enterprise_id": "E1", "bot_token": "xoxb-org"})
    assert json.loads(await redis.get(f"{prefix}:slack:installation:E1:-")) == {
        "enterprise_id": "E1",
        "bot_token": "xoxb-org",
    }
    assert await redis.ttl(f"{prefix}:slack:installation:E1:-") == -1, "kept until deleted"
    await state.delete_installation("E1", None)
    assert await state.installation("E1", None) is None


async def test_an_oauth_state_is_consumed_once(store: Store, redis: Redis, prefix: str) -> None:
    state = SlackState(store.namespace(NAMESPACE))
    await state.issue_oauth_state("abc", 600)
    assert 0 < await redis.ttl(f"{prefix}:slack:oauth-state:abc") <= 600
    assert await state.consume_oauth_state("abc") is True
    assert await state.consume_oauth_state("abc") is False
    assert await state.consume_oauth_state("never-issued") is False
    await redis.set(f"{prefix}:slack:oauth-state:older", 1, ex=600)  # issued by an older parley
    assert await state.consume_oauth_state("older") is True


async def test_thread_contexts_keep_their_keys(store: Store, redis: Redis, prefix: str) -> None:
    await redis.set(f"{prefix}:slack:thread-context:D1:1.0", json.dumps({"channel_id": "C1"}), ex=100)
    state = SlackState(store.namespace(NAMESPACE))
    assert await state.thread_context("D1", "1.0") == {"channel_id": "C1"}
    await state.save_thread_context("D1", "2.0", {"channel_id": "C2", "team_id": "T1"}, 100)
    assert json.loads(await redis.get(f"{prefix}:slack:thread-context:D1:2.0")) == {
        "channel_id": "C2",
        "team_id": "T1",
    }
    assert 0 < await redis.ttl(f"{prefix}:slack:thread-context:D1:2.0") <= 100
    assert await state.thread_context("D1", "3.0") is None


async def test_user_names_stored_as_plain_text_are_looked_up_again(store: Store, redis: Redis, prefix: str) -> None:
    await redis.set(f"{prefix}:slack:user-name:T1:U1", "Alice Liddell", ex=100)  # an older parley's format
    state = SlackState(store.namespace(NAMESPACE))
    assert await state.user_name("T1", "U1") is None
    await state.save_user_name("T1", "U1", "Alice Liddell", 100)
    assert await state.user_name("T1", "U1") == "Alice Liddell"
    assert await redis.get(f"{prefix}:slack:user-name:T1:U1") == b'"Alice Liddell"'
    assert 0 < await redis.ttl(f"{prefix}:slack:user-name:T1:U1") <= 100
    await redis.set(f"{prefix}:slack:user-name:T1:U2", "42", ex=100)  # plain text that happens to be JSON
    assert await state.user_name("T1", "U2") is None


async def test_an_assistant_thread_is_greeted_once(store: Store) -> None:
    state = SlackState(store.namespace(NAMESPACE))
    assert await state.claim_greeting("T1", "D1", "1.0", 60) is True
    assert await state.claim_greeting("T1", "D1", "1.0", 60) is False
    assert await state.claim_greeting("T1", "D1", "2.0", 60) is True
