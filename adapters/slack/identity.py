"""Who parley is in each workspace (``auth.test``), asked once per workspace, not once per event.

Bolt authorizes every event. With one bot token it calls ``auth.test`` until it has an answer, so every event
that arrives before the first answer makes a call of its own (300 events at start-up made 237); for OAuth
installations it calls it for every event. These are Bolt's authorize step with the answers kept: one
look-up per workspace at a time, the events that arrive meanwhile wait for it, and the answer is kept
``KEEP_SECONDS`` (a reinstalled workspace's new token is taken after that at the latest). A failed look-up
is not kept: the next event asks again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

KEEP_SECONDS = 600.0
Key = tuple[str | None, str | None, bool]
"""A workspace: its enterprise (org), its team, whether the installation is org-wide."""


@dataclass(frozen=True, slots=True)
class _Kept:
    result: AuthorizeResult
    until: float


class OncePerWorkspace(AsyncAuthorize):
    """What ``ask`` found per workspace: one look-up at a time, its answer kept a while."""

    def __init__(self, *, keep_seconds: float = KEEP_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._keep_seconds = keep_seconds
        self._clock = clock
        self._kept: dict[Key, _Kept] = {}
        self._asking: dict[Key, asyncio.Future[AuthorizeResult | None]] = {}

    async def ask(self, key: Key, look_up: Callable[[], Awaitable[AuthorizeResult | None]]) -> AuthorizeResult | None:
        kept = self._kept.get(key)
        if kept is not None and kept.until > self._clock():
            return kept.result
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.ensure_future(look_up())
            asking.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(asking)  # an event given up on does not end the look-up others wait for

    def _settled(self, key: Key, done: asyncio.Future[AuthorizeResult | None]) -> None:
        self._asking.pop(key, None)
        if done.cancelled() or done.exception() is not None:  # (exception() marks it seen: each waiter raises it)
            return
        result = done.result()
        if result is not None:  # "not installed" is asked again: the installation may be under way
            self._kept[key] = _Kept(result, self._clock() + self._keep_seconds)


class OneBotToken(OncePerWorkspace):
    """One workspace, one bot token (SLACK_BOT_TOKEN): every event is authorized as it."""

    WORKSPACE: Key = (None, None, False)

    def __init__(self, token: str, **keeping: Any) -> None:
        super().__init__(**keeping)
        self._token = token

    async def sign_in(self, client: AsyncWebClient) -> AuthorizeResult:
        """Who the token is, asked at start-up (and kept, so the first events need not ask again)."""
        found = await self.ask(self.WORKSPACE, lambda: self._identity(client))
        assert found is not None  # _identity returns an answer or raises
        return found

    async def __call__(self, *, context: AsyncBoltContext, **_: Any) -> AuthorizeResult | None:
        return await self.ask(self.WORKSPACE, lambda: self._identity(context.client))

    async def _identity(self, client: AsyncWebClient) -> AuthorizeResult:
        answer = await client.auth_test(token=self._token)
        scopes = answer.headers.get("x-oauth-scopes")
        return AuthorizeResult.from_auth_test_response(
            auth_test_response=answer, bot_token=self._token, bot_scopes=scopes
        )


class Installations(OncePerWorkspace):
    """Workspaces that installed parley (OAuth): Bolt's own authorize finds each one's token and asks auth.test."""

    def __init__(self, authorize: AsyncAuthorize, **keeping: Any) -> None:
        super().__init__(**keeping)
        self._authorize = authorize

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_: Any,
    ) -> AuthorizeResult | None:
        key = (enterprise_id, team_id, bool(context.is_enterprise_install))
        return await self.ask(
            key, lambda: self._authorize(context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)
        )
