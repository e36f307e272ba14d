"""The Discord floor bot: discord.py, one streamed model call, one send in a thread made from the mention.

``python -m bench.floor_discord`` with DISCORD_BOT_TOKEN, DISCORD_API_URL, DISCORD_GATEWAY_URL,
OPENAI_BASE_URL and OPENAI_API_KEY set. A mention inside a thread is answered in that thread. Stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bench.floor_model import FloorModel


class FloorClient(discord.Client):
    def __init__(self, model: FloorModel) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.1)
        self.model = model

    async def on_ready(self) -> None:
        print("floor: ready", flush=True)

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None or message.author == self.user or self.user not in message.mentions:
            return
        if isinstance(message.channel, discord.Thread):
            where: discord.abc.Messageable = message.channel
        else:
            where = await message.create_thread(name=message.content[:90] or "answer")
        await where.send(await self.model.answer(message.content))


async def main() -> None:
    Route.BASE = os.environ["DISCORD_API_URL"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    model = FloorModel()
    client = FloorClient(model)
    runner = asyncio.create_task(client.start(os.environ["DISCORD_BOT_TOKEN"]))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await asyncio.wait([runner, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    await client.close()
    await asyncio.gather(runner, return_exceptions=True)
    await model.aclose()


if __name__ == "__main__":
    asyncio.run(main())
