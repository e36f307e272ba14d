"""``[slack]``: how the Slack adapter behaves, and the secrets it reads from the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bot.api import AdapterTable


class SlackPrompt(BaseModel):
    """One suggested prompt of Slack's assistant view: the button's title and the message it sends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=75)
    message: str = Field(min_length=1, max_length=2000)


class SlackConfig(AdapterTable):
    """``[slack]``: how the Slack adapter behaves (tokens come from the environment only)."""

    TABLE: ClassVar[str] = "slack"
    SECRETS: ClassVar[tuple[str, ...]] = (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_SECRET",
    )
    CHANNEL_EXAMPLE: ClassVar[str] = "slack:T1/C42"
    ADMIN_EXAMPLE: ClassVar[str] = "slack:U0123"

    edit_interval: float = Field(1.0, ge=0, le=60, description="seconds between two edits of a streamed reply")
    placeholder: str = Field(
        "_thinking…_",
        max_length=200,
        description='posted when no text came within first_text_grace, then edited into the reply ("": none)',
    )
    first_text_grace: float = Field(
        0.5,
        ge=0,
        le=60,
        description="seconds the first text is held (an answer complete by then is one post); then the text so far, "
        "or the placeholder or status if none came",
    )
    native_streaming: bool = Field(
        True, description="stream replies in threads with chat.startStream where the workspace offers it"
    )
    updates_per_minute: int = Field(
        50, ge=1, le=10_000, description="chat.update calls a workspace allows a minute (Slack's Tier 3: 50+)"
    )
    max_connections: int = Field(
        2000, ge=1, le=100_000, description="connections to Slack's Web API at once, shared by every workspace"
    )
    answer_bots: bool = Field(False, description="answer messages from other bots (never its own)")
    workspace_admins_are_admins: bool = Field(
        False, description="workspace admins and owners (users.info) may change settings too"
    )
    assistant_greeting: str = Field(
        "Hi! Ask me anything.",
        min_length=1,
        max_length=3000,
        description="posted when an assistant thread, or the agent view's Messages tab, opens",
    )
    suggested_prompts: list[SlackPrompt] = Field(
        default_factory=lambda: [
            SlackPrompt(title="Summarise", message="Summarise the key points of a text I will paste."),
            SlackPrompt(title="Explain", message="Explain a concept to me in simple terms."),
        ],
        max_length=4,
        description="up to 4 suggested prompts shown when an assistant thread opens",
    )
