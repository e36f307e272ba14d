"""The Slack adapter's environment: tokens, secrets and the Web API's address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.api import ConfigError

DEFAULT_API_URL = "https://slack.com/api/"


@dataclass(frozen=True, slots=True)
class SlackEnv:
    bot_token: str | None = field(repr=False)
    signing_secret: str | None = field(repr=False)
    app_token: str | None = field(repr=False)
    api_url: str = DEFAULT_API_URL
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None

    @property
    def oauth(self) -> bool:
        """SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set: install in several workspaces with OAuth."""
        return bool(self.client_id and self.client_secret)

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @classmethod
    def read(cls, environ: Mapping[str, str], *, receiving: bool = True) -> SlackEnv:
        """The variables, checked; ConfigError says what to set. ``receiving=False``: for a worker, which
        takes no events (no signing secret or app-level token needed), only posts with the bot token."""

        def get(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        bot_token, signing_secret, app_token = (
            get("SLACK_BOT_TOKEN"),
            get("SLACK_SIGNING_SECRET"),
            get("SLACK_APP_TOKEN"),
        )
        client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
        oauth = bool(client_id and client_secret)
        api_url = get("SLACK_API_URL") or DEFAULT_API_URL
        if not api_url.startswith(("https://", "http://")):
            raise ConfigError(f"SLACK_API_URL must start with https:// (default {DEFAULT_API_URL})")
        if bot_token is None and not oauth:
            raise ConfigError(
                "Slack needs SLACK_BOT_TOKEN (xoxb-..., from OAuth & Permissions of your Slack app), "
                "or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install it in several workspaces with OAuth"
            )
        if bot_token is not None and not bot_token.startswith("xox"):
            raise ConfigError("SLACK_BOT_TOKEN is not a Slack token: it starts with xoxb- (the Bot User OAuth Token)")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise ConfigError(
                "SLACK_APP_TOKEN is not an app-level token: it starts with xapp- (Basic Information > App-Level "
                "Tokens, scope connections:write); leave it unset to receive events over HTTP"
            )
        if receiving and app_token is None and signing_secret is None:
            raise ConfigError(
                "Slack over HTTP needs SLACK_SIGNING_SECRET (Basic Information > App Credentials) to verify "
                "requests; or set SLACK_APP_TOKEN (xapp-...) to use Socket Mode without a public URL"
            )
        if receiving and oauth and signing_secret is None:
            raise ConfigError("Slack OAuth (SLACK_CLIENT_ID) also needs SLACK_SIGNING_SECRET")
        return cls(
            bot_token,
            signing_secret,
            app_token,
            api_url.rstrip("/") + "/",
            client_id,
            client_secret,
            get("SLACK_REDIRECT_URI"),
        )
