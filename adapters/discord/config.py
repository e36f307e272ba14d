"""``[discord]``: how the Discord adapter behaves, and the secret it reads from the environment."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from adapters.discord.endpoints import TOKEN_ENV
from bot.api import AdapterTable


class DiscordConfig(AdapterTable):
    """``[discord]``: how the Discord adapter behaves (the token comes from the environment only)."""

    TABLE: ClassVar[str] = "discord"
    SECRETS: ClassVar[tuple[str, ...]] = (TOKEN_ENV,)
    CHANNEL_EXAMPLE: ClassVar[str] = "discord:*/1234"
    ADMIN_EXAMPLE: ClassVar[str] = "discord:80351110224678912"

    edit_interval: float = Field(1.5, ge=0, le=60, description="seconds between two edits of a streamed reply")
    first_text_grace: float = Field(
        0.5, ge=0, le=60, description="seconds to wait for the first text before typing is shown"
    )
    guilds: list[str] = Field(
        default_factory=list,
        description="server (guild) ids to sync /parley to at start-up, instantly; empty: sync globally",
    )
    answer_bots: bool = Field(False, description="answer messages from other bots (never its own)")
    max_connections: int = Field(
        2000, ge=1, le=100_000, description="connections to Discord's REST API at once; a call waits for a free one"
    )

    @field_validator("guilds", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        """A server id written as a TOML number is as good as a string."""
        if isinstance(value, list):
            return [str(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in value]
        return value

    @field_validator("guilds")
    @classmethod
    def _snowflakes(cls, value: list[str]) -> list[str]:
        for guild in value:
            if not guild.isdigit() or not guild.isascii():
                raise ValueError(
                    f"{guild!r} is not a Discord server id: write its digits in quotes, e.g. "
                    'guilds = ["1234567890123456789"] (Developer Mode -> right-click the server -> Copy Server ID)'
                )
        return value
