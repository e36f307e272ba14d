"""A turn's files, read to fit its channel's primary backend: what the model can see and the room it has."""

from __future__ import annotations

from collections.abc import Mapping

from bot.attachments import ReadFiles, read_files
from bot.config import Config
from bot.llm.base import Backend
from bot.messages import IncomingMessage
from bot.prompt import estimate_tokens
from bot.settings import ChannelSettings
from bot.vision import sees_images


def context_window(settings: ChannelSettings, config: Config, backends: Mapping[str, Backend]) -> int:
    """The context window of the channel's primary backend (0: not open here)."""
    name = settings.backend or config.default_backend
    return backends[name].context_window if name in backends else 0


async def read_message_files(
    message: IncomingMessage, settings: ChannelSettings, config: Config, backends: Mapping[str, Backend]
) -> ReadFiles:
    """The message's text with what parley reads of its files and images (``bot/attachments.py``)."""
    text = message.text.strip()
    if not message.files:
        return ReadFiles(text)
    name = settings.backend or config.default_backend
    configured = config.backends.get(name)
    model = settings.model or (configured.model or configured.deployment if configured else None)
    vision = sees_images(model, configured.vision if configured else None)
    window = context_window(settings, config, backends)
    fixed = settings.max_tokens + estimate_tokens(settings.system_prompt) + estimate_tokens(text)
    room = (window - fixed) * 3 // 4  # the rest for the thread's history
    return await read_files(text, message.files, config.files, vision=vision, room_tokens=room)
