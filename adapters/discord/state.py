"""What the Discord adapter keeps in Redis, in the store's ``discord`` namespace.

Keys, under ``{prefix}:discord:``:

- ``reply-chain:{message id}``  the root message of the reply chain the message belongs to
  (JSON string), kept as long as the thread's history
- ``opened-thread:{message id}``  the thread a worker opened from the message to answer it (JSON string),
  so that a later attempt at the same job (its worker died) answers there instead of opening another;
  kept as long as the event's dedup marker
"""

from __future__ import annotations

from bot.api import Namespace

NAMESPACE = "discord"


class DiscordState:
    def __init__(self, space: Namespace) -> None:
        self._space = space
        """The core's ``discord`` namespace: ``DiscordState(conversation.state(NAMESPACE))``."""

    async def link_reply_chain(self, message_id: str, root_id: str, ttl_seconds: int) -> None:
        """Remember that a message belongs to the reply chain started by ``root_id``."""
        await self._space.set(f"reply-chain:{message_id}", root_id, ttl_seconds)

    async def reply_chain_root(self, message_id: str, ttl_seconds: int) -> str | None:
        """The root of the chain a message belongs to (refreshing the link's TTL), if known."""
        root = await self._space.get_refreshing(f"reply-chain:{message_id}", ttl_seconds)
        return root if isinstance(root, str) else None

    async def record_opened_thread(self, message_id: str, thread_id: str, ttl_seconds: int) -> None:
        """Remember the thread opened from ``message_id`` to answer it."""
        await self._space.set(f"opened-thread:{message_id}", thread_id, ttl_seconds)

    async def opened_thread(self, message_id: str) -> str | None:
        """The thread an earlier attempt opened from ``message_id``, if any."""
        thread = await self._space.get(f"opened-thread:{message_id}")
        return thread if isinstance(thread, str) else None
