"""The web console in Debian's Chromium, beside the real Slack adapter, the real core, Redis and the fake LLM."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from bot.channels import Channels
from bot.config import Config
from bot.conversation import Conversation
from bot.messages import Author
from bot.store import Store
from bot.threads import ChannelKey, ThreadKey
from tests.support.browser import TOKEN, Served, chromium, page_on, screenshot, serve_all
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import TEAM, FakeSlack, Message
from tests.support.slack_harness import ADMIN, CHANNEL, mention, until

HERE = ChannelKey("slack", TEAM, CHANNEL)
ROOT = ThreadKey("slack", TEAM, CHANNEL, "1790000000.000100")


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, admins=[f"slack:{ADMIN}"])


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest_asyncio.fixture
async def served(core: Conversation, slack: FakeSlack, fake: FakeOpenAI) -> AsyncIterator[Served]:
    async with serve_all(core, slack) as served:
        await served.slack.event(mention("hello from slack", ts=ROOT.thread))  # the channel parley has talked in
        await until(lambda: len(fake.requests) == 1, what="the mention's answer")
        await until(lambda: core.has_history(ROOT), what="its history")
        yield served


async def sign_in(page: Page, base: str) -> None:
    await page.goto(base + "/console")
    await expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    await page.get_by_label("Admin token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Channels", level=1)).to_be_visible()


async def open_channel(page: Page) -> None:
    await page.get_by_role("link", name=str(HERE)).click()
    await expect(page.get_by_role("heading", name=f"Playground: {HERE}")).to_be_visible()


async def accessible(page: Page) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


async def test_sign_in_set_save_and_a_slack_event_uses_it(served: Served, fake: FakeOpenAI, store: Store) -> None:
    refusal = await served.slack.answer_to("set temperature 7", user=ADMIN)
    async with chromium() as browser, page_on(browser, served.url) as (page, offline):
        await screenshot(page, "sign-in") if await page.goto(served.url + "/console/sign-in") else None
        await sign_in(page, served.url)
        await accessible(page)
        await screenshot(page, "channels")
        await page.get_by_label("Search channels").fill("C0NOWHERE")
        await page.get_by_role("button", name="Search").click()
        await expect(page.get_by_text("No channel matches")).to_be_visible()
        await page.get_by_label("Search channels").fill("general")
        await page.get_by_role("button", name="Search").click()
        await expect(page.get_by_role("heading", name=f"slack:{TEAM}", level=2)).to_be_visible()
        await open_channel(page)
        await accessible(page)

        await page.get_by_label("temperature", exact=True).fill("7")
        await page.get_by_role("button", name="Try").click()
        await expect(page.locator("#refused")).to_have_text(refusal)
        await page.get_by_role("button", name="Save to channel").click()
        await expect(page.locator("#answers li")).to_have_text([refusal])
        assert await store.overrides(HERE) == {}

        await page.get_by_label("temperature", exact=True).fill("0.3")
        await page.get_by_role("button", name="Save to channel").click()
        await expect(page.locator("#answers li")).to_have_text([f"temperature is now 0.3 in {HERE}."])
        assert "0.3" in await served.slack.answer_to("show")
        await page.get_by_role("link", name="Audit", exact=True).click()
        await expect(page.get_by_role("cell", name="web console")).to_be_visible()
        await accessible(page)
        await screenshot(page, "audit")
        assert offline.outside == []

    before = len(fake.requests)
    await served.slack.event(mention("and now?"))
    await until(lambda: len(fake.requests) > before, what="the next request to the model")
    assert fake.requests[-1]["temperature"] == 0.3


async def test_the_playground_streams_turn_after_turn_and_compares(served: Served, fake: FakeOpenAI) -> None:
    async with chromium() as browser, page_on(browser, served.url) as (page, offline):
        await sign_in(page, served.url)
        await open_channel(page)
        fake.queue(Reply("The first answer, written a few letters at a time.", chunk_size=3, delay=0.02,
                         reasoning="Let me think."))  # fmt: skip
        await page.get_by_label("Prompt", exact=True).fill("first question")
        await page.get_by_role("button", name="Try").click()
        pane = page.locator("#pane-a")
        await expect(pane.locator(".text").last).to_have_text("The first answer, written a few letters at a time.")
        await expect(pane.locator(".reasoning pre").last).to_have_text("Let me think.")
        await page.get_by_label("Prompt", exact=True).fill("second question")
        await page.get_by_role("button", name="Try").click()
        await expect(pane.locator(".text").last).to_have_text("echo: second question")
        sent = [(m["role"], m["content"]) for m in fake.requests[-1]["messages"]]
        assert ("user", "first question") in sent and sent[-1] == ("user", "second question")
        await screenshot(page, "playground")

        await page.get_by_label("temperature", exact=True).fill("0")
        await page.get_by_label("B: temperature").fill("1")
        await page.get_by_label("Prompt", exact=True).fill("compare me")
        await page.get_by_role("button", name="Compare").click()
        await expect(page.locator("#pane-b .text").last).to_have_text("echo: compare me")
        await expect(page.locator("#pane-a .text").last).to_have_text("echo: compare me")
        assert sorted(r.get("temperature") for r in fake.requests[-2:]) == [0, 1]
        await screenshot(page, "compare")
        await accessible(page)

        await page.get_by_role("button", name="Reset").click()
        await expect(page.locator("#playground")).to_have_attribute("data-reset", "yes")
        await expect(pane).to_be_empty()
        assert offline.outside == []


async def test_threads_are_read_and_forgotten(served: Served, core: Conversation) -> None:
    thread = ROOT
    async with chromium() as browser, page_on(browser, served.url) as (page, _):
        await sign_in(page, served.url)
        await open_channel(page)
        await page.get_by_role("link", name="Threads").click()
        await expect(page.locator(".history li")).to_have_text(
            ["user: hello from slack", "assistant: echo: hello from slack"]
        )
        await accessible(page)
        await screenshot(page, "threads")
        await page.get_by_role("button", name=f"Forget thread {thread.thread}").click()
        await expect(page.get_by_text("No thread of this channel is remembered.")).to_be_visible()
    assert not await core.has_history(thread)


async def test_keyboard_only(served: Served) -> None:
    async with chromium() as browser, page_on(browser, served.url) as (page, _):
        await page.goto(served.url + "/console/sign-in")
        await expect(page.locator("#token")).to_be_focused()  # the token field has the focus
        await page.keyboard.type(TOKEN)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Channels", level=1)).to_be_visible()
        await tab_to(page, lambda found: found == f"link:{HERE}")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name=f"Playground: {HERE}")).to_be_visible()
        await tab_to(page, lambda found: found == "textarea:prompt")
        await page.keyboard.type("typed, not clicked")
        await tab_to(page, lambda found: found == "button:try")
        await page.keyboard.press("Enter")
        await expect(page.locator("#pane-a .text").last).to_have_text("echo: typed, not clicked")
        await tab_to(page, lambda found: found.startswith("button:") and "Sign out" in found, back=True)
        await page.keyboard.press("Enter")
        await expect(page.get_by_text("You are signed out.")).to_be_visible()


async def tab_to(page: Page, wanted: object, *, back: bool = False) -> None:
    for _ in range(120):
        await page.keyboard.press("Shift+Tab" if back else "Tab")
        found = await page.evaluate(
            "() => { const e = document.activeElement; const t = e.tagName.toLowerCase();"
            " return t === 'a' ? 'link:' + e.textContent.trim() : t + ':' + (e.id || e.textContent.trim()); }"
        )
        if wanted(found):  # type: ignore[operator]
            return
    raise AssertionError("the keyboard did not reach it")


async def test_sign_out_and_refusals(served: Served) -> None:
    async with chromium() as browser, page_on(browser, served.url) as (page, _):
        await sign_in(page, served.url)
        cookies = await page.context.cookies()
        (cookie,) = [c for c in cookies if c["name"] == "parley_console"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_text("You are signed out.")).to_be_visible()
        await page.goto(served.url + "/console/channels")
        await expect(page).to_have_url(re.compile(r"/console/sign-in$"))

    session = served.slack.session
    form = {"c": str(HERE), "temperature": "0.5", "csrf": "whatever"}
    async with session.post(served.url + "/console/save", data=form) as response:
        assert response.status == 401  # no session
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as signed:  # a cookie for an IP
        async with signed.post(served.url + "/console/sign-in", data={"token": TOKEN}) as response:
            assert response.status == 200 and response.url.path == "/console/channels"
        async with signed.post(served.url + "/console/save", data=form) as response:
            assert response.status == 403  # a bad CSRF token
            assert "CSRF" in await response.text()


async def test_repeated_bad_tokens_lock_sign_in(served: Served) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(4):
            async with client.post(served.url + "/console/sign-in", data={"token": "wrong"}) as response:
                assert response.status == 403 and "not the admin token" in await response.text()
        async with client.post(served.url + "/console/sign-in", data={"token": "wrong"}) as response:
            assert "locked" in await response.text()
        async with client.post(served.url + "/console/sign-in", data={"token": TOKEN}) as response:
            assert response.status == 403 and "locked" in await response.text()


async def test_without_the_token_every_console_path_is_404(
    core: Conversation, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        async with serve_all(core, slack, token="") as served:
            for path in (
                "/console",
                "/console/",
                "/console/sign-in",
                "/console/channels",
                "/console/static/console.js",
            ):
                async with served.slack.session.get(served.url + path) as response:
                    assert response.status == 404, path
            async with served.slack.session.post(served.url + "/console/sign-in", data={"token": ""}) as response:
                assert response.status == 404
    assert any("PARLEY_ADMIN_TOKEN" in record.getMessage() and "turn it on" in record.getMessage()
               for record in caplog.records)  # fmt: skip


async def test_the_cookie_is_secure_behind_https(served: Served) -> None:
    headers = {"X-Forwarded-Proto": "https"}
    async with aiohttp.ClientSession() as client:
        sign_in_url = served.url + "/console/sign-in"
        async with client.post(sign_in_url, data={"token": TOKEN}, headers=headers, allow_redirects=False) as response:
            cookie = response.headers["Set-Cookie"]
    assert response.status == 303
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Secure", "Max-Age=28800", "Path=/console"))


async def test_a_helpdesk_channel_shows_its_day(served: Served, core: Conversation, store: Store) -> None:
    await Channels(core.config, store).set(HERE, "oncall", "<!subteam^S0ONCALL|@it-oncall>")
    asked = "1790000000.000200"
    await served.slack.event(mention("is the wiki down?", ts=asked))

    def with_buttons() -> list[Message]:
        return [m for m in served.slack.slack.thread(CHANNEL, asked) if m.blocks]

    await until(lambda: bool(with_buttons()), what="the answer with its buttons")
    [answer] = with_buttons()
    voted = await core.desk.vote("slack", answer.ts, Author(ADMIN, "admin"), "up")
    assert voted.counted
    async with chromium() as browser, page_on(browser, served.url) as (page, _):
        await sign_in(page, served.url)
        await open_channel(page)
        desk = page.get_by_role("list", name="Helpdesk today")
        await expect(desk).to_contain_text("1 questions: 1 answered without a hand-off, 0 handed to a person")
        await expect(desk).to_contain_text("feedback: 1 👍, 0 👎, 100% 👍")
        await accessible(page)
