"""What the console's sub-application holds: the sessions, the page renderer, the core."""

from __future__ import annotations

from aiohttp import web

from adapters.web.auth import Sessions
from adapters.web.views import Views
from bot.api import Conversation

SESSIONS: web.AppKey[Sessions] = web.AppKey("console_sessions", Sessions)
VIEWS: web.AppKey[Views] = web.AppKey("console_views", Views)
CORE: web.AppKey[Conversation] = web.AppKey("console_core", Conversation)
