"""The Slack app: slack_bolt's AsyncApp with parley's listeners, served over HTTP or Socket Mode.

A message for parley is queued before Slack is acknowledged (``ingress.py``, a middleware) and
answered by a worker (``worker.py``: ``SlackAdapter.worker`` in this process, or ``parley worker``).
Every other listener runs after Bolt has acknowledged the event (its default), so slow work never
delays the ack past Slack's 3 s.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import events
from adapters.slack.agent import AgentView
from adapters.slack.assistant import build_assistant
from adapters.slack.config import SlackConfig
from adapters.slack.desk import SlackDesk
from adapters.slack.env import SlackEnv
from adapters.slack.identity import Installations, OneBotToken
from adapters.slack.inflight import GRACE_SECONDS, InFlight
from adapters.slack.ingress import Ingress
from adapters.slack.mrkdwn import Mrkdwn
from adapters.slack.oauth import multi_workspace_oauth
from adapters.slack.pacing import SlackPaces
from adapters.slack.people import People
from adapters.slack.redact import mask_tokens
from adapters.slack.slash import Slash
from adapters.slack.state import NAMESPACE as STATE_NAMESPACE
from adapters.slack.state import SlackState
from adapters.slack.verify import SignedRequests
from adapters.slack.worker import SlackWorker
from adapters.slack.workspaces import Workspaces, configure_client
from bot.api import SOMETHING_BROKE, ConfigError, Conversation

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
TOKEN_REFUSED = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired")


class SlackAdapter:
    name = "slack"

    def __init__(self, conversation: Conversation, env: SlackEnv) -> None:
        self._conversation = conversation
        self._env = env
        self._config = conversation.config.table(SlackConfig)
        state = SlackState(conversation.state(STATE_NAMESPACE))
        self._slash = Slash(conversation, self._config, People(state))
        self._paces = SlackPaces(
            self._config.edit_interval, self._config.updates_per_minute, book=conversation.pace_book()
        )
        self._inflight = InFlight()
        self._serving = False
        """Over HTTP: events can arrive (the bot token checked, the route served)."""
        self._socket: SocketModeClient | None = None
        """In Socket Mode: the client, once its first connection is open (the bot token checked)."""
        self._signed = SignedRequests(env.signing_secret)
        oauth = multi_workspace_oauth(env, state)
        authorize = OneBotToken(env.bot_token or "") if oauth is None else Installations(oauth.authorize)
        self._bot = authorize if isinstance(authorize, OneBotToken) else None
        self.app = AsyncApp(
            name="parley",
            logger=mask_tokens(logging.getLogger("parley.slack.bolt")),
            signing_secret=env.signing_secret or "",
            authorize=authorize,  # type: ignore[arg-type]  # auth.test once per workspace (Bolt types it loosely)
            oauth_settings=oauth,
        )
        configure_client(self.app.client, env, self._paces)  # Bolt's own client, which its OAuth flow shares
        installations = self.app.installation_store if env.oauth else None
        self._workspaces = Workspaces(env, self._paces, installations, conversation.metrics)
        self.worker = SlackWorker(
            conversation, state=state, workspaces=self._workspaces, paces=self._paces, inflight=self._inflight
        )
        """The worker side (``JobHandler``) for this process's worker, sharing the session and the budgets."""
        self.app.use(Ingress(conversation, answer_bots=self._config.answer_bots))  # before the assistant's
        self.app.assistant(
            build_assistant(
                state=state,
                config=self._config,
                ttl_seconds=conversation.config.history.ttl_seconds,
                dedup_seconds=conversation.config.dedup_seconds,
            )
        )
        self._agent = AgentView(
            has_history=conversation.has_history,
            state=state,
            config=self._config,
            ttl_seconds=conversation.config.history.ttl_seconds,
            dedup_seconds=conversation.config.dedup_seconds,
        )
        self.app.event("app_home_opened")(self._on_home_opened)
        self.app.event("app_context_changed")(self._on_context_changed)
        self.app.event("app_mention")(self._on_message)
        self.app.event("message")(self._on_message)
        self.app.command(events.SLASH)(self._on_slash)
        SlackDesk(conversation, Mrkdwn()).register(self.app)

    # -- parley run ----------------------------------------------------------------
    async def run(self) -> None:
        """Serve with one keep-alive session for every Web API call, of every workspace.

        slack_sdk opens a new session, so a new connection (a TLS handshake), per call without one.
        Bolt's per-request clients copy ``app.client.session``.
        """
        async with self._workspaces.kept_alive(self._config.max_connections, self.app.client.timeout) as session:
            self.app.client.session = session
            try:
                await self._serve()
            finally:
                self.app.client.session = None

    async def readiness(self) -> str | None:
        """``/readyz``: None while events can arrive (over HTTP: serving, after auth.test; in Socket Mode: the
        socket open, which slack_sdk reopens by itself after a drop); else why not."""
        if self._env.app_token is None:
            return None if self._serving else "not serving"
        socket = self._socket
        return None if socket is not None and await socket.is_connected() else "socket not open"

    def mount(self, app: web.Application) -> None:
        if self._env.signing_secret is None:
            return  # Socket Mode only: without a secret no HTTP request could be verified, so none is taken
        app.router.add_post(EVENTS_PATH, self._http_events)
        flow = self.app.oauth_flow
        if flow is not None:
            app.router.add_get(flow.install_path, self._http_install)
            app.router.add_get(flow.redirect_uri_path, self._http_oauth_redirect)

    async def _serve(self) -> None:
        await self._check_bot_token()
        if self._env.app_token is None:
            log.info("Slack: receiving events over HTTP at %s", EVENTS_PATH)
            self._serving = True
            try:
                await asyncio.Event().wait()  # the shared HTTP server does the work
            finally:
                self._serving = False
                await self._drain()
            return
        handler = AsyncSocketModeHandler(self.app, self._env.app_token)
        # The client retries a failed connection forever: open the first one here, so a refused token is an error.
        try:
            opened = await self.app.client.apps_connections_open(app_token=self._env.app_token)
            handler.client.wss_uri = str(opened["url"])
        except SlackApiError as error:
            await handler.client.close()  # type: ignore[no-untyped-call]
            raise ConfigError(
                f"Slack refused SLACK_APP_TOKEN ({error.response.get('error')}): use an app-level token "
                "(xapp-...) with the connections:write scope, and turn Socket Mode on in the app's settings"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            await handler.client.close()  # type: ignore[no-untyped-call]
            raise self._unreachable(error) from None
        try:
            await handler.client.connect()  # type: ignore[no-untyped-call]
            log.info("Slack: connected in Socket Mode")
            self._socket = handler.client
            await asyncio.Event().wait()
        finally:
            self._socket = None
            await handler.client.close()  # type: ignore[no-untyped-call]
            await self._drain()

    async def _drain(self) -> None:
        """Let the replies under way finish over the kept-alive session before it closes (at most as long as
        the worker's drain): a reply this process's worker begins from now on opens connections of its own."""
        self._workspaces.session = None
        await self._inflight.drain(max(GRACE_SECONDS, self._conversation.config.queue.drain_seconds))

    def _unreachable(self, error: Exception) -> ConfigError:
        """At start-up, as for Discord: an API nobody answers at stops ``parley run`` (exit 2), saying where."""
        return ConfigError(
            f"cannot reach Slack's Web API at {self._env.api_url} ({error.__class__.__name__}: {error}); "
            "check the network, or SLACK_API_URL if you set it"
        )

    async def _check_bot_token(self) -> None:
        """A wrong SLACK_BOT_TOKEN, or a Web API nobody answers at, is a configuration error now,
        not a silent failure at the first event (and a /healthz that says ok meanwhile)."""
        if self._bot is None:
            return  # each workspace's token comes from its installation
        try:
            identity = await self._bot.sign_in(self.app.client)
        except SlackApiError as error:
            code = error.response.get("error")
            if code in TOKEN_REFUSED:
                raise ConfigError(
                    f"Slack refused SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token (xoxb-...) "
                    "from OAuth & Permissions, after installing the app in the workspace"
                ) from None
            log.warning("Slack: auth.test failed (%s); going on", code)
            return
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._unreachable(error) from None
        log.info("Slack: signed in as %s in %s", identity.user, identity.team)

    # -- HTTP ------------------------------------------------------------------------
    async def _http_events(self, request: web.Request) -> web.Response:
        bolt_request = await self._signed.bolt_request(request)
        if isinstance(bolt_request, web.Response):  # not signed (401), or not a Slack body (400): Bolt never sees it
            return bolt_request
        if self._inflight.closing:  # Slack delivers it again later, to whichever parley then runs
            return web.json_response({"error": "parley is stopping"}, status=503)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    async def _http_install(self, request: web.Request) -> web.Response:
        flow = self.app.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_installation(await _plain_request(request)))

    async def _http_oauth_redirect(self, request: web.Request) -> web.Response:
        flow = self.app.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_callback(await _plain_request(request)))

    # -- listeners (after the ack) -------------------------------------------------------
    async def _on_message(self) -> None:
        """A message event the ingress did not queue (``ingress.py``): one parley stays silent on."""

    async def _on_home_opened(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        async with self._inflight.track():
            await self._agent.home_opened(event, events.team_of(body, context.team_id), client)

    async def _on_context_changed(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._agent.context_changed(event, body, events.team_of(body, context.team_id))

    async def _on_slash(
        self,
        ack: AsyncAck,
        command: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        team = str(command.get("team_id") or context.team_id or "")
        async with self._inflight.track():
            try:
                answer = await self._slash.answer(command, team, client)
            except Exception:  # after the ack Slack shows nothing of a failure: say it
                # The command's first word only: its rest may be a user's text (a system prompt, say), never logged.
                log.exception("Slack: /parley %s failed", str(command.get("text") or "").partition(" ")[0])
                log.debug("the /parley command that failed: %s", command.get("text"))
                answer = SOMETHING_BROKE
            await respond(text=answer, response_type="ephemeral")


async def _plain_request(request: web.Request) -> AsyncBoltRequest:
    return AsyncBoltRequest(body="", query=request.query_string, headers=dict(request.headers))
