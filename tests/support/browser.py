"""Debian's Chromium under Playwright, and the console on a loopback server beside the Slack adapter."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, Request, Route, async_playwright, expect

from adapters.slack import create
from adapters.web import mount
from bot.conversation import Conversation
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.slack_harness import Running, slack_environ

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "console-test-token-0123456789abcdef"
# A busy 2-core machine may take longer than Playwright's 5 s: wait, never time a test.
expect.set_options(timeout=30_000)
SCREENSHOTS = Path(os.environ.get("PARLEY_SCREENSHOTS") or Path(tempfile.gettempdir()) / "parley-screenshots")
"""Where the browser tests save their screenshots: a temporary folder, so a test run changes no tracked file;
``PARLEY_SCREENSHOTS=docs/screenshots uv run pytest tests/web`` renews the README's pictures."""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium. Where it is not installed: on CI (which installs it) a failure, elsewhere a skip
    that says how to install it, so that ``uv run pytest`` on a fresh machine runs everything else green."""
    if shutil.which(CHROMIUM) is None:
        missing = f"the browser tests need Debian's Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Offline:
    """Every request the page makes that is not to the loopback server is refused and noted."""

    base: str
    outside: list[str] = field(default_factory=list)

    async def route(self, route: Route, request: Request) -> None:
        if request.url.startswith(self.base):
            await route.continue_()
        else:
            self.outside.append(request.url)
            await route.abort()


@asynccontextmanager
async def page_on(browser: Browser, base: str) -> AsyncIterator[tuple[Page, Offline]]:
    context: BrowserContext = await browser.new_context(viewport={"width": 1280, "height": 900})
    offline = Offline(base)
    await context.route("**/*", offline.route)
    page = await context.new_page()
    try:
        yield page, offline
    finally:
        await context.close()


@dataclass
class Served:
    url: str
    slack: Running


@asynccontextmanager
async def serve_all(core: Conversation, slack: FakeSlack, token: str = TOKEN) -> AsyncIterator[Served]:
    """What ``parley run slack`` serves, console included: one aiohttp server on a loopback port."""
    environ = slack_environ(slack, PARLEY_ADMIN_TOKEN=token)
    adapter = create(core, environ)
    app = web.Application()
    adapter.mount(app)
    mount(app, core, environ)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    task = asyncio.create_task(adapter.run())
    stopping = asyncio.Event()
    worker = asyncio.create_task(core.worker({"slack": adapter.worker}, "browser-test").run(stopping))
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            yield Served(url, Running(url, slack, session, task, worker, stopping))
    finally:
        stopping.set()
        task.cancel()
        await asyncio.gather(task, worker, return_exceptions=True)
        await runner.cleanup()


async def screenshot(page: Page, name: str) -> None:
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
