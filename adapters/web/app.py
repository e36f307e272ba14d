"""The console's routes under /console, and the guard every page and change passes (session, CSRF)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web

from adapters.web import pages, playground
from adapters.web.auth import Session, Sessions, csrf_ok, drop_cookie, set_cookie
from adapters.web.keys import CORE, SESSIONS, VIEWS
from adapters.web.views import Views
from bot.api import Conversation

log = logging.getLogger(__name__)

TOKEN = "PARLEY_ADMIN_TOKEN"
STATIC = Path(__file__).parent / "static"
Page = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


def mount(app: web.Application, conversation: Conversation, environ: Mapping[str, str]) -> None:
    """The console under /console: with PARLEY_ADMIN_TOKEN set, else a 404 on every path of it."""
    token = environ.get(TOKEN, "").strip()
    if not token:
        log.info("the web console is off: set %s to a long random secret to turn it on (at /console)", TOKEN)
        app.router.add_route("*", "/console{tail:.*}", _not_found)
        return
    sessions = Sessions(token, conversation.state("web"))
    views = Views()
    console = web.Application()
    console[SESSIONS] = sessions
    console[VIEWS] = views
    console[CORE] = conversation
    console.router.add_get("", _home)
    console.router.add_get("/", _home)
    console.router.add_get("/sign-in", _sign_in_page)
    console.router.add_post("/sign-in", _sign_in)
    console.router.add_post("/sign-out", guard(_sign_out))
    console.router.add_static("/static", STATIC)
    for path, page in pages.ROUTES.items():
        console.router.add_get(path, guard(page))
    for path, change in {**pages.CHANGES, **playground.CHANGES}.items():
        console.router.add_post(path, guard(change))
    app.add_subapp("/console", console)
    log.info("the web console is on at /console (sign in with %s)", TOKEN)


async def _not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


def guard(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Signed-in only (else the sign-in page, or 401 for a script); a change must carry the session's CSRF token."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        session = await request.app[SESSIONS].current(request)
        if session is None:
            if request.method == "GET":
                raise web.HTTPSeeOther("/console/sign-in")
            raise web.HTTPUnauthorized(text="Sign in first: /console/sign-in")
        if request.method != "GET":
            form = await request.post()
            offered = str(form.get("csrf", "")) or request.headers.get("X-CSRF-Token", "")
            if not csrf_ok(session, offered):
                raise web.HTTPForbidden(text="Refused: the form's CSRF token is missing or wrong. Reload the page.")
        return await page(request, session)

    return guarded


async def _home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/console/channels")


async def _sign_in_page(request: web.Request) -> web.Response:
    return request.app[VIEWS].page("sign_in.html", request, None, error="")


async def _sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    cookie, error = await request.app[SESSIONS].sign_in(request, str(form.get("token", "")))
    if cookie is None:
        response = request.app[VIEWS].page("sign_in.html", request, None, error=error)
        response.set_status(403 if error else 400)
        return response
    signed_in = web.HTTPSeeOther("/console/channels")
    set_cookie(signed_in, request, cookie)
    raise signed_in


async def _sign_out(request: web.Request, session: Session) -> web.StreamResponse:
    await request.app[SESSIONS].sign_out(session)
    response = request.app[VIEWS].page("sign_in.html", request, None, error="", signed_out=True)
    drop_cookie(response)
    return response
