"""The Slack floor bot: Bolt over HTTP (signature checked), one streamed model call, one chat.postMessage.

``python -m bench.floor_slack`` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL, OPENAI_BASE_URL,
OPENAI_API_KEY and BENCH_PORT set. One aiohttp session for every Web API call. Stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.floor_model import FloorModel


async def main() -> None:
    session = aiohttp.ClientSession()
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], session=session)
    app = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client)
    model = FloorModel()

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], client: AsyncWebClient) -> None:
        text = await model.answer(str(event.get("text", "")))
        await client.chat_postMessage(
            channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"], text=text
        )

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(os.environ["BENCH_PORT"])).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("floor: ready", flush=True)
    await stop.wait()
    await runner.cleanup()
    await model.aclose()
    await session.close()


if __name__ == "__main__":
    asyncio.run(main())
