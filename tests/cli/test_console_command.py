"""``parley console``: the web console alone, on 127.0.0.1 by default; it needs PARLEY_ADMIN_TOKEN."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from adapters.cli import main, parse_args
from adapters.web.serve import serve_console
from bot.config import Config
from tests.support.net import free_port


def test_it_listens_on_loopback_by_default() -> None:
    args = parse_args(["console"])
    assert (args.host, args.port) == ("127.0.0.1", 3000)


def test_without_the_token_it_says_how_to_turn_it_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with pytest.raises(SystemExit) as stopped:
        main(["console"])
    assert stopped.value.code == 2
    assert "PARLEY_ADMIN_TOKEN" in capsys.readouterr().err


async def test_it_serves_the_console_and_nothing_else(config: Config, redis_url: str) -> None:
    port = free_port()
    here = config.model_copy(update={"redis_url": redis_url})
    served = asyncio.create_task(serve_console(here, {**os.environ, "PARLEY_ADMIN_TOKEN": "t" * 32}, "127.0.0.1", port))
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/console/sign-in") as response:
                        assert response.status == 200 and "Admin token" in await response.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"parley console did not start: {served}")
            async with session.post(f"http://127.0.0.1:{port}/slack/events", data="{}") as response:
                assert response.status == 404
    finally:
        served.cancel()
        await asyncio.gather(served, return_exceptions=True)
