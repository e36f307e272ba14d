"""Signing in with PARLEY_ADMIN_TOKEN: sessions in Redis, a cookie, CSRF tokens, a lock-out after bad tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web

from bot.api import Namespace

COOKIE = "parley_console"
SESSION_SECONDS = 8 * 3600
FAILURES_ALLOWED = 5
FAILURE_WINDOW_SECONDS = 300
LOCK_SECONDS = 60
LOCKED = "Too many wrong tokens: sign-in is locked for a minute. Try again later."
WRONG = "That is not the admin token."


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    csrf: str
    who: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def client_of(request: web.Request) -> str:
    return request.remote or "unknown"


def is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


class Sessions:
    """Who is signed in, kept in the console's own namespace in Redis (so sessions outlive a restart)."""

    def __init__(self, token: str, state: Namespace) -> None:
        self._token = token
        self._state = state

    async def sign_in(self, request: web.Request, offered: str) -> tuple[str | None, str]:
        """A new session's cookie value for the right token; else None and why."""
        client = client_of(request)
        if await self._state.get(f"locked:{_digest(client)}") is not None:
            return None, LOCKED
        if not hmac.compare_digest(offered.strip().encode(), self._token.encode()):
            return None, await self._failed(client)
        await self._state.delete(f"failures:{_digest(client)}")
        cookie = secrets.token_urlsafe(32)
        record = {"csrf": secrets.token_urlsafe(32), "who": f"admin at {client}"}
        await self._state.set(f"session:{_digest(cookie)}", record, SESSION_SECONDS)
        return cookie, ""

    async def _failed(self, client: str) -> str:
        key = f"failures:{_digest(client)}"
        found = await self._state.get(key)
        count = (found if isinstance(found, int) else 0) + 1
        await self._state.set(key, count, FAILURE_WINDOW_SECONDS)
        if count >= FAILURES_ALLOWED:
            await self._state.set(f"locked:{_digest(client)}", True, LOCK_SECONDS)
            await self._state.delete(key)
            return LOCKED
        return WRONG

    async def current(self, request: web.Request) -> Session | None:
        cookie = request.cookies.get(COOKIE, "")
        if not cookie:
            return None
        found = await self._state.get(f"session:{_digest(cookie)}")
        if not isinstance(found, dict):
            return None
        return Session(_digest(cookie), str(found.get("csrf", "")), str(found.get("who", "admin")))

    async def sign_out(self, session: Session) -> None:
        await self._state.delete(f"session:{session.id}")


def csrf_ok(session: Session, offered: str) -> bool:
    return bool(offered) and hmac.compare_digest(offered.encode(), session.csrf.encode())


def set_cookie(response: web.StreamResponse, request: web.Request, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/console",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )


def drop_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console")
