"""Rendering the console's pages: Jinja2 templates shipped in the package, HTML escaped."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from adapters.web.auth import Session


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"


def _q(text: object) -> str:
    return quote(str(text), safe="")


class Views:
    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("adapters.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["when"] = _when
        self._env.filters["q"] = _q
        for name in self._env.list_templates():  # read once, here: no file is read while a request is served
            self._env.get_template(name)

    def render(self, name: str, session: Session | None, **values: Any) -> str:
        return self._env.get_template(name).render(session=session, **values)

    def page(self, name: str, request: web.Request, session: Session | None, **values: Any) -> web.Response:
        response = web.Response(text=self.render(name, session, **values), content_type="text/html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response
