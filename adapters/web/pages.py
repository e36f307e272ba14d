"""The console's pages: channels, one channel (settings panel and playground), threads, audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import groupby
from urllib.parse import urlencode

from aiohttp import web

from adapters.web import keys as console
from adapters.web.auth import Session
from adapters.web.charts import usage_chart
from bot.api import ChannelKey, ChannelSettings, ThreadKey

Page = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


def channel_of(text: str) -> ChannelKey:
    try:
        return ChannelKey.parse(text)
    except ValueError:
        raise web.HTTPNotFound(text="No such channel.") from None


def thread_of(channel: ChannelKey, thread: str) -> ThreadKey:
    if not thread:
        raise web.HTTPNotFound(text="No such thread.")
    return ThreadKey(channel.platform, channel.workspace, channel.channel, thread)


async def channels(request: web.Request, session: Session) -> web.StreamResponse:
    core = request.app[console.CORE]
    search = request.query.get("q", "").strip().lower()
    found = [info for info in await core.admin.channels() if search in str(info.channel).lower()]
    groups = [
        (platform_workspace, list(members))
        for platform_workspace, members in groupby(found, key=lambda i: f"{i.channel.platform}:{i.channel.workspace}")
    ]
    today = {}
    for info in found:
        settings = await core.settings_for(info.channel)
        used = (await core.admin.usage(info.channel, days=1))[0]
        today[str(info.channel)] = (used, settings.daily_token_budget)
    return request.app[console.VIEWS].page(
        "channels.html", request, session, groups=groups, search=search, today=today, backends=core.admin.backends()
    )


async def channel(request: web.Request, session: Session, **extra: object) -> web.StreamResponse:
    core = request.app[console.CORE]
    key = channel_of(request.query.get("c", "") or str(extra.get("channel", "")))
    settings = await core.settings_for(key)
    return request.app[console.VIEWS].page(
        "channel.html",
        request,
        session,
        channel=key,
        rows=await core.admin.settings(key),
        chart=usage_chart(await core.admin.usage(key), settings.daily_token_budget),
        today=(await core.admin.usage(key, days=1))[0],
        desk=await core.desk.report(key),
        budget=settings.daily_token_budget,
        audit=(await core.admin.audit(key))[:20],
        answers=extra.get("answers", []),
    )


async def threads(request: web.Request, session: Session) -> web.StreamResponse:
    core = request.app[console.CORE]
    key = channel_of(request.query.get("c", ""))
    found = [(thread, when, await core.admin.history(thread)) for thread, when in await core.admin.threads(key)]
    return request.app[console.VIEWS].page("threads.html", request, session, channel=key, threads=found)


async def forget(request: web.Request, session: Session) -> web.StreamResponse:
    form = await request.post()
    key = channel_of(str(form.get("c", "")))
    await request.app[console.CORE].admin.forget(thread_of(key, str(form.get("t", ""))))
    raise web.HTTPSeeOther(f"/console/threads?{urlencode({'c': str(key)})}")


async def audit(request: web.Request, session: Session) -> web.StreamResponse:
    core = request.app[console.CORE]
    key = channel_of(request.query["c"]) if request.query.get("c") else None
    return request.app[console.VIEWS].page(
        "audit.html", request, session, channel=key, entries=await core.admin.audit(key)
    )


async def save(request: web.Request, session: Session) -> web.StreamResponse:
    """Save to channel: each changed value stored as ``/set`` stores it; the page shows ``/set``'s answers."""
    form = await request.post()
    key = channel_of(str(form.get("c", "")))
    values = {name: str(value) for name, value in form.items() if name in ChannelSettings.model_fields}
    answers = await request.app[console.CORE].admin.save(key, values, session.who)
    return await channel(request, session, channel=key, answers=answers or ["Nothing changed."])


ROUTES: dict[str, Page] = {"/channels": channels, "/channel": channel, "/threads": threads, "/audit": audit}
CHANGES: dict[str, Page] = {"/forget": forget, "/save": save}
