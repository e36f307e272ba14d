"""Where discord.py connects: Discord itself, or a proxy / the tests' loopback fake.

discord.py has no per-client setting for its URLs. It reads the REST base from
the class attribute ``discord.http.Route.BASE`` and the gateway from
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a plain ``Client`` never
asks ``GET /gateway/bot``). Both are therefore process-wide: ``apply`` sets
them in this one place, once per adapter start-up, before the client logs in.
One process talks to one Discord, so a class attribute is the honest scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.api import ConfigError

TOKEN_ENV = "DISCORD_BOT_TOKEN"
API_ENV = "DISCORD_API_URL"
GATEWAY_ENV = "DISCORD_GATEWAY_URL"
DEFAULT_API = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"


@dataclass(frozen=True, slots=True)
class Endpoints:
    token: str
    api_url: str
    gateway_url: str

    def apply(self) -> None:
        """Point discord.py (process-wide, see the module's docstring) at these URLs."""
        Route.BASE = self.api_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)


def from_environment(environ: Mapping[str, str]) -> Endpoints:
    """The token and URLs from the environment; a ConfigError says what to set."""
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"{TOKEN_ENV} is not set: copy the bot token from the Discord developer portal "
            "(your application -> Bot -> Reset Token) into it"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in token):
        raise ConfigError(f"{TOKEN_ENV} holds control characters, not a token")
    api = environ.get(API_ENV, "").strip() or DEFAULT_API
    gateway = environ.get(GATEWAY_ENV, "").strip() or DEFAULT_GATEWAY
    if not api.startswith(("https://", "http://")):
        raise ConfigError(f"{API_ENV}: {api!r} must start with https:// or http://, e.g. {DEFAULT_API}")
    if not gateway.startswith(("wss://", "ws://")):
        raise ConfigError(f"{GATEWAY_ENV}: {gateway!r} must start with wss:// or ws://, e.g. {DEFAULT_GATEWAY}")
    return Endpoints(token=token, api_url=api.rstrip("/"), gateway_url=gateway)
