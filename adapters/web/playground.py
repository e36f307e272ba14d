"""The playground: Try (stream an answer with the edited, unsaved settings), Compare two sets side by side, Reset."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from adapters.web import keys
from adapters.web.auth import Session
from adapters.web.pages import channel_of, thread_of
from adapters.web.sse import EventSink, open_stream, send
from bot.api import ChannelKey, ChannelSettings, Conversation, ThreadKey

Change = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]
PANES = ("a", "b")


def settings_form(form: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """The settings fields of a form (``b.KEY`` for compare's second set), by key."""
    found = {}
    for key in ChannelSettings.model_fields:
        value = form.get(prefix + key)
        if isinstance(value, str) and (value.strip() or not prefix):  # compare's B: blank is "as A"
            found[key] = value
    return found


def playground_thread(channel: ChannelKey, session: Session, pane: str) -> ThreadKey:
    """The playground's own conversation in the channel, one per signed-in session and pane."""
    return thread_of(channel, f"console-{session.id[:10]}-{pane}")


async def try_it(request: web.Request, session: Session) -> web.StreamResponse:
    """Stream one answer per pane (``a``; ``b`` too when comparing) into the page as server-sent events."""
    core = request.app[keys.CORE]
    form = await request.post()
    channel = channel_of(str(form.get("c", "")))
    prompt = str(form.get("prompt", "")).strip()
    compare = form.get("mode") == "compare"
    panes = PANES if compare else PANES[:1]
    edited = {pane: await core.admin.edited(channel, _values(form, pane)) for pane in panes}
    response = await open_stream(request)
    refused = [f"{_label(pane, compare)}{error}" for pane in panes for error in edited[pane].errors]
    if refused or not prompt:
        await send(response, "refused", refused or ["Write a prompt first."])
        await send(response, "done", {})
        return response
    runs = []
    for pane in panes:
        thread = playground_thread(channel, session, f"cmp{pane}" if compare else pane)
        if compare:
            await core.admin.forget(thread)  # each comparison is one prompt, from a fresh start
        settings = edited[pane].settings.model_copy(update={"show_reasoning": True})
        runs.append(_play(core, thread, prompt, settings, EventSink(response, pane), session.who))
    await asyncio.gather(*runs)
    await send(response, "done", {})
    return response


def _values(form: Mapping[str, object], pane: str) -> dict[str, str]:
    values = settings_form(form)
    if pane == "b":
        values.update(settings_form(form, "b."))
    return values


def _label(pane: str, compare: bool) -> str:
    return f"Settings {pane.upper()}: " if compare else ""


async def _play(
    core: Conversation, thread: ThreadKey, prompt: str, settings: ChannelSettings, sink: EventSink, who: str
) -> None:
    await core.admin.play(thread, prompt, settings, sink, who)


async def reset(request: web.Request, session: Session) -> web.StreamResponse:
    """Forget the playground's conversation in this channel (it starts afresh)."""
    form = await request.post()
    channel = channel_of(str(form.get("c", "")))
    for pane in (*PANES, "cmpa", "cmpb"):
        await request.app[keys.CORE].admin.forget(playground_thread(channel, session, pane))
    return web.json_response({"ok": True})


CHANGES: dict[str, Change] = {"/try": try_it, "/reset": reset}
