"""The Slack worker side: answers the message events the ingress queued, through the Web API.

``SlackWorker`` is the ``JobHandler`` of platform "slack". For each job it makes a client for
the event's workspace, classifies the event again, looks up the names it mentions, reads the
thread before parley's first mention in it, the files, what the user is viewing, builds the reply
sink (native streaming where the workspace offers it, the channel's and workspace's budgets)
and hands the message to ``Turn.answer``. It needs no HTTP server or socket of its own: ``parley
run`` runs it beside the ingress (the same ``SlackAdapter``, sharing its session and budgets),
``parley worker`` on its own (``create_handler``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Self

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import events
from adapters.slack.assistant import RedisThreadContextStore, title_for, viewing_channel
from adapters.slack.config import SlackConfig
from adapters.slack.files import fetch_files
from adapters.slack.inflight import InFlight
from adapters.slack.mrkdwn import Mrkdwn
from adapters.slack.pacing import EDIT_BURST, SlackPaces
from adapters.slack.people import People
from adapters.slack.queued import QueuedEvent
from adapters.slack.sink import MAX_CHARS, AssistantSink, SlackSink
from adapters.slack.state import SlackState
from adapters.slack.streams import NativeStreaming, NativeStreams
from adapters.slack.thread_reader import authors_and_mentions, prior_messages, profile_name, read_thread
from adapters.slack.workspaces import Workspaces
from bot.api import Attachment, Conversation, IncomingMessage, Job, PriorMessage, SinkLimits, Turn

log = logging.getLogger(__name__)

TIMEOUT = 30.0
"""Seconds one Web API call may take (slack_sdk's default)."""


def sent_at(event: Mapping[str, Any], otherwise: datetime) -> datetime:
    """When Slack says the message was written (its ts), for the time to first text; else ``otherwise``."""
    try:
        return datetime.fromtimestamp(float(str(event.get("ts"))), UTC)
    except (ValueError, OverflowError, OSError):
        return otherwise


class SlackWorker:
    platform = events.PLATFORM

    def __init__(
        self,
        conversation: Conversation,
        *,
        state: SlackState,
        workspaces: Workspaces,
        paces: SlackPaces,
        inflight: InFlight | None = None,
    ) -> None:
        self._conversation = conversation
        self._config = conversation.config.table(SlackConfig)
        self._state = state
        self._people = People(state)
        self._contexts = RedisThreadContextStore(state, conversation.config.history.ttl_seconds)
        self._workspaces = workspaces
        self._paces = paces
        self._inflight = inflight or InFlight()
        """The replies being written, which the session must outlive (``parley run`` waits for them)."""
        self._opened = AsyncExitStack()
        self._mrkdwn = Mrkdwn()
        self._native = NativeStreaming(self._config.native_streaming)
        placeholder, measure = self._config.placeholder.strip() or None, self._mrkdwn.length
        interval, grace = self._config.edit_interval, self._config.first_text_grace
        self._limits = SinkLimits(MAX_CHARS, interval, placeholder, measure, EDIT_BURST, grace)
        self._stream_limits = SinkLimits(MAX_CHARS, interval, None, measure, EDIT_BURST, grace)

    async def __aenter__(self) -> Self:
        """On its own (``parley worker``): one keep-alive session for the Web API calls while the worker runs
        (in ``parley run`` the adapter's is used)."""
        await self._opened.enter_async_context(self._workspaces.kept_alive(self._config.max_connections, TIMEOUT))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._opened.aclose()

    async def handle(self, job: Job, turn: Turn) -> None:
        queued = QueuedEvent.read(job.payload)
        classified = events.classify(queued.event, queued.team, queued.bot, answer_bots=self._config.answer_bots)
        if isinstance(classified, events.Ignored):  # the ingress kept it: only a changed config ignores it now
            log.info("Slack job %s ignored: %s", job.id, classified.reason)
            return
        async with self._inflight.track():
            client = await self._workspaces.client(queued)
            message = await self._message(queued, classified, client)
            sink = self._sink(queued, classified, client)
            with self._paces.writing_in(classified.channel):  # a 429 on any of its calls slows this channel
                await turn.answer(message, sink)

    async def tell(self, job: Job, text: str) -> None:
        """A short notice in the job's thread (a message that could not be answered: said once, plainly)."""
        queued = QueuedEvent.read(job.payload)
        classified = events.classify(queued.event, queued.team, queued.bot, answer_bots=True)
        channel = str(queued.event.get("channel") or job.thread.channel)
        thread_ts = classified.reply_thread_ts if isinstance(classified, events.Addressed) else None
        client = await self._workspaces.client(queued)
        # Shielded: the worker may let go of a job it has just moved to the dead letters while its notice
        # is still being sent (with Slack's retries, seconds); the notice is finished all the same.
        if job.replies and isinstance(classified, events.Addressed):  # in place of the reply an attempt began
            await asyncio.shield(self._sink(queued, classified, client).edit(job.replies[0], text))
            return
        await asyncio.shield(client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=self._mrkdwn(text)))

    async def _message(
        self, queued: QueuedEvent, classified: events.Addressed, client: AsyncWebClient
    ) -> IncomingMessage:
        event, team = queued.event, queued.team
        try:
            names = await self._people.names(client, team, classified.users)
        except Exception:  # the name cache (Redis) failing must not silence the reply: the core says what broke
            log.exception("Slack: looking up mentioned users' names failed; their ids are shown")
            names = {}
        if classified.kind is events.Kind.FOLLOW_UP and classified.user not in names:  # kept, named, if unanswered
            names[classified.user] = profile_name(event) or await self._people.known_name(team, classified.user) or ""
        prior = await self._thread_before(event, classified, client, team, queued.bot)
        viewing = await self._viewing(queued, classified, client)
        files = await self._files(event, classified, client)
        message = events.incoming_message(classified, names=names, viewing=viewing, prior=prior, files=files)
        return replace(message, received_at=sent_at(event, message.received_at))

    async def _viewing(self, queued: QueuedEvent, classified: events.Addressed, client: AsyncWebClient) -> str:
        """The channel the user looks at beside parley: the assistant thread's context, or (the agent
        view) the one ``app_context_changed`` last reported for a DM. An assistant thread's first question
        also titles it."""
        thread_ts = classified.reply_thread_ts
        if queued.assistant and thread_ts is not None:
            await self._title(queued, classified, thread_ts, client)
            found = await self._contexts.find(channel_id=classified.channel, thread_ts=thread_ts)
            return viewing_channel(found, classified.channel)
        if classified.dm:
            return await self._state.viewing(queued.team, classified.user) or ""
        return ""

    async def _title(
        self, queued: QueuedEvent, classified: events.Addressed, thread_ts: str, client: AsyncWebClient
    ) -> None:
        text = str(queued.event.get("text") or "").strip()
        if not text or await self._conversation.has_history(classified.thread):
            return
        try:
            await client.assistant_threads_setTitle(
                channel_id=classified.channel, thread_ts=thread_ts, title=title_for(text)
            )
        except SlackApiError as error:
            log.warning("assistant.threads.setTitle failed: %s", error.response.get("error"))

    def _sink(self, queued: QueuedEvent, classified: events.Addressed, client: AsyncWebClient) -> SlackSink:
        sink_type = AssistantSink if queued.assistant else SlackSink
        channel, thread_ts, team = classified.channel, classified.reply_thread_ts, queued.team
        streams = None
        if thread_ts is not None and self._native.offered(team):  # a stream needs a thread, and shows no placeholder
            recipient = classified.user or None
            streams = NativeStreams(client, channel, thread_ts, team=team, recipient=recipient, streaming=self._native)
        limits = self._stream_limits if queued.assistant or streams is not None else self._limits
        pace, stream_pace = self._paces.for_reply(client.token, channel), self._paces.for_stream(channel)
        return sink_type(client, channel, thread_ts, limits=limits, mrkdwn=self._mrkdwn, pace=pace, streams=streams,
                         stream_pace=stream_pace)  # fmt: skip

    async def _files(
        self, event: Mapping[str, object], classified: events.Addressed, client: AsyncWebClient
    ) -> tuple[Attachment, ...]:
        """The message's files, downloaded if the core would read them; none for a reply in a thread parley
        is not in (the core answers no such reply: its files are not worth a download)."""
        shared = event.get("files") or []
        if not shared or not isinstance(shared, list):
            return ()
        if classified.kind is events.Kind.FOLLOW_UP and not await self._conversation.has_history(classified.thread):
            return ()
        config = self._conversation.config.files
        return await fetch_files(shared, client.token or "", config, self._workspaces.session)

    async def _thread_before(
        self,
        event: Mapping[str, object],
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
