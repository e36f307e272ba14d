"""The Slack app: slack_bolt's AsyncApp with parley's listeners, served over HTTP or Socket Mode.

Every listener runs after Bolt has acknowledged the event (its default), so a
slow model never delays the ack past Slack's 3 s. A turn that fails is logged
and told to the user by the core; the app keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
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
from slack_sdk.http_retry.builtin_async_handlers import AsyncServerErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import events
from adapters.slack.agent import AgentView
from adapters.slack.assistant import build_assistant
from adapters.slack.config import SlackConfig
from adapters.slack.env import SlackEnv
from adapters.slack.files import fetch_files
from adapters.slack.identity import Installations, OneBotToken
from adapters.slack.inflight import InFlight
from adapters.slack.mrkdwn import Mrkdwn
from adapters.slack.oauth import multi_workspace_oauth
from adapters.slack.pacing import EDIT_BURST, PacedRateLimitRetryHandler, SlackPaces
from adapters.slack.people import People
from adapters.slack.redact import mask_tokens
from adapters.slack.sink import MAX_CHARS, AssistantSink, SlackSink
from adapters.slack.slash import Slash
from adapters.slack.state import NAMESPACE as STATE_NAMESPACE
from adapters.slack.state import SlackState
from adapters.slack.streams import NativeStreaming, NativeStreams
from adapters.slack.thread_reader import authors_and_mentions, prior_messages, profile_name, read_thread
from adapters.slack.verify import SignedRequests
from bot.api import SOMETHING_BROKE, Attachment, ConfigError, Conversation, PriorMessage, SinkLimits

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
TOKEN_REFUSED = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired")
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 2


def configure_client(client: AsyncWebClient, env: SlackEnv, paces: SlackPaces) -> None:
    """The Web API client: SLACK_API_URL; 429 answers slow the replies' budgets and are retried after
    their Retry-After, 500 and 503 twice.

    (Bolt copies both into the per-workspace clients it makes for listeners.)
    """
    client.base_url = env.api_url
    client.retry_handlers.append(PacedRateLimitRetryHandler(paces, max_retry_count=RATE_LIMIT_RETRIES))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES))


class SlackAdapter:
    name = "slack"

    def __init__(self, conversation: Conversation, env: SlackEnv) -> None:
        self._conversation = conversation
        self._env = env
        self._config = conversation.config.table(SlackConfig)
        self._mrkdwn = Mrkdwn()
        state = SlackState(conversation.state(STATE_NAMESPACE))
        self._people = People(state)
        self._slash = Slash(conversation, self._config, self._people)
        placeholder, measure = self._config.placeholder.strip() or None, self._mrkdwn.length
        interval, grace = self._config.edit_interval, self._config.first_text_grace
        self._limits = SinkLimits(MAX_CHARS, interval, placeholder, measure, EDIT_BURST, grace)
        self._assistant_limits = SinkLimits(MAX_CHARS, interval, None, measure, EDIT_BURST, grace)
        self._paces = SlackPaces(interval, self._config.updates_per_minute)
        self._native = NativeStreaming(self._config.native_streaming)
        self._inflight = InFlight()
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
        self.app.assistant(
            build_assistant(
                has_history=conversation.has_history,
                state=state,
                config=self._config,
                ttl_seconds=conversation.config.history.ttl_seconds,
                dedup_seconds=conversation.config.dedup_seconds,
                answer=self._answer_assistant,
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

    # -- parley run ----------------------------------------------------------------
    async def run(self) -> None:
        """Serve with one keep-alive session for every Web API call, of every workspace.

        slack_sdk opens a new session, so a new connection (a TLS handshake), per call without one.
        Bolt's per-request clients copy ``app.client.session``.
        """
        connector = aiohttp.TCPConnector(limit=self._config.max_connections)
        timeout = aiohttp.ClientTimeout(total=self.app.client.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            self.app.client.session = session
            try:
                await self._serve()
            finally:
                self.app.client.session = None

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
            try:
                await asyncio.Event().wait()  # the shared HTTP server does the work
            finally:
                await self._inflight.drain()
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
            await asyncio.Event().wait()
        finally:
            await handler.client.close()  # type: ignore[no-untyped-call]
            await self._inflight.drain()

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
    async def _on_message(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await self._answer(event, body, context, client, assistant=False, viewing="")

    async def _on_home_opened(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        async with self._inflight.track():
            await self._agent.home_opened(event, events.team_of(body, context.team_id), client)

    async def _on_context_changed(self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._agent.context_changed(event, body, events.team_of(body, context.team_id))

    async def _answer_assistant(
        self,
        event: Mapping[str, Any],
        body: Mapping[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        viewing: str,
    ) -> None:
        await self._answer(event, body, context, client, assistant=True, viewing=viewing)

    async def _answer(
        self,
        event: Mapping[str, Any],
        body: Mapping[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        *,
        assistant: bool,
        viewing: str,
    ) -> None:
        bot = events.BotIdentity(context.bot_user_id, context.bot_id)
        team = events.team_of(body, context.team_id)
        classified = events.classify(event, team, bot, answer_bots=self._config.answer_bots)
        if isinstance(classified, events.Ignored):
            log.debug("Slack event %s ignored: %s", body.get("event_id"), classified.reason)
            return
        log.debug("Slack event %s: a %s in %s", body.get("event_id"), classified.kind.value, classified.thread)
        try:
            names = await self._people.names(client, team, classified.users)
        except Exception:  # the name cache (Redis) failing must not silence the reply: the core says what broke
            log.exception("Slack: looking up mentioned users' names failed; their ids are shown")
            names = {}
        if classified.kind is events.Kind.FOLLOW_UP and classified.user not in names:  # kept, named, if unanswered
            names[classified.user] = profile_name(event) or await self._people.known_name(team, classified.user) or ""
        prior = await self._thread_before(event, classified, client, team, bot)
        if classified.dm and not assistant:  # the agent view: what the user looks at beside the DM
            viewing = await self._agent.viewing(team, classified.user)
        files = await self._files(event, classified, client)
        message = events.incoming_message(classified, names=names, viewing=viewing, prior=prior, files=files)
        sink_type = AssistantSink if assistant else SlackSink
        channel, thread_ts = classified.channel, classified.reply_thread_ts
        streams = None
        if thread_ts is not None and self._native.offered(team):  # a stream needs a thread, and shows no placeholder
            recipient = classified.user or None
            streams = NativeStreams(client, channel, thread_ts, team=team, recipient=recipient, streaming=self._native)
        limits = self._assistant_limits if assistant or streams is not None else self._limits
        pace, stream_pace = self._paces.for_reply(client.token, channel), self._paces.for_stream(channel)
        sink = sink_type(client, channel, thread_ts, limits=limits, mrkdwn=self._mrkdwn, pace=pace, streams=streams,
                         stream_pace=stream_pace)  # fmt: skip
        with self._paces.writing_in(channel):  # a 429 on any of its calls slows this channel
            async with self._inflight.track():
                await self._conversation.receive(message, sink)

    async def _files(
        self, event: Mapping[str, Any], classified: events.Addressed, client: AsyncWebClient
    ) -> tuple[Attachment, ...]:
        """The message's files, downloaded if the core would read them; none for a reply in a thread parley
        is not in (the core answers no such reply: its files are not worth a download)."""
        shared = event.get("files") or []
        if not shared:
            return ()
        if classified.kind is events.Kind.FOLLOW_UP and not await self._conversation.has_history(classified.thread):
            return ()
        return await fetch_files(shared, client.token or "", self._conversation.config.files, self.app.client.session)

    async def _thread_before(
        self,
        event: Mapping[str, Any],
        classified: events.Addressed,
        client: AsyncWebClient,
        team: str,
        bot: events.BotIdentity,
    ) -> tuple[PriorMessage, ...]:
        """A channel thread's earlier messages, when parley is first mentioned in it (read once per thread)."""
        thread_ts, ts = event.get("thread_ts"), str(event.get("ts"))
        if classified.kind is not events.Kind.MENTION or not thread_ts or thread_ts == ts:
            return ()
        wanted = await self._conversation.context_wanted(classified.thread)
        if not wanted:
            return ()
        earlier = await read_thread(client, classified.channel, str(thread_ts), ts, wanted)
        try:
            names = await self._people.names(client, team, authors_and_mentions(earlier, bot))
        except Exception:
            log.exception("Slack: looking up the thread's authors failed; their ids are shown")
            names = {}
        return prior_messages(earlier, bot, names)

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
                log.exception("Slack: /parley %s failed", command.get("text"))
                answer = SOMETHING_BROKE
            await respond(text=answer, response_type="ephemeral")


async def _plain_request(request: web.Request) -> AsyncBoltRequest:
    return AsyncBoltRequest(body="", query=request.query_string, headers=dict(request.headers))
