"""Slack's native streaming (chat.startStream, appendStream, stopStream), where a workspace offers it.

A reply message is started as a stream and each edit that adds to its text is appended, as
slack_sdk's streaming helper does it; Slack renders the Markdown itself (``<!...>`` mentions defused, so
that none notifies a channel). A workspace that answers ``unknown_method``, ``feature_not_enabled`` or
``not_allowed`` (GovSlack, older workspaces) is remembered for the process and gets chat.postMessage
and chat.update instead. An edit that does not add to the streamed text, or comes after the stream
has lived ``LIFETIME`` (Slack ends one after about 5 minutes), stops the stream and finishes the
message with chat.update.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.mrkdwn import defuse

log = logging.getLogger(__name__)

REFUSED = ("unknown_method", "feature_not_enabled", "not_allowed")
"""The answers meaning this workspace does not stream: post and edit there instead."""
CALL_CHARS = 12_000
"""The most markdown_text one streaming call takes."""
LIFETIME = 270.0
"""Seconds a stream is appended to; Slack ends one after about 5 minutes."""


class NativeStreaming:
    """Whether to stream natively, and the workspaces that refused it (remembered while the process runs)."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._refused: set[str] = set()

    def offered(self, team: str) -> bool:
        return self._enabled and team not in self._refused

    def refused(self, team: str, error: str) -> None:
        if team not in self._refused:
            log.info("Slack: workspace %s does not stream replies natively (%s): posting and editing", team, error)
        self._refused.add(team)


@dataclass
class Stream:
    sent: str
    """The Markdown the message shows so far."""
    started: float


class NativeStreams:
    """One reply's native streams, in one thread: start, append, stop."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        *,
        team: str,
        recipient: str | None,
        streaming: NativeStreaming,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._team = team
        self._recipient = recipient
        self._streaming = streaming
        self._clock = clock
        self._open: dict[str, Stream] = {}

    @property
    def offered(self) -> bool:
        return self._streaming.offered(self._team)

    async def start(self, text: str) -> str | None:
        """A new message streaming ``text``; None when the workspace does not stream (post it instead)."""
        text = defuse(text)  # Slack reads the Markdown as it is: no broadcast mention in it
        try:
            response = await self._client.chat_startStream(
                channel=self._channel,
                thread_ts=self._thread_ts,
                markdown_text=text[:CALL_CHARS],
                recipient_user_id=self._recipient,
                recipient_team_id=self._team or None,
            )
        except SlackApiError as error:
            code = str(error.response.get("error"))
            if code not in REFUSED:
                raise
            self._streaming.refused(self._team, code)
            return None
        ts = str(response["ts"])
        stream = self._open[ts] = Stream(text[:CALL_CHARS], self._clock())
        await self._append(ts, stream, text[CALL_CHARS:])
        return ts

    def streams(self, message_id: str) -> bool:
        return message_id in self._open

    async def extend(self, message_id: str, text: str) -> bool:
        """Append what ``text`` adds to the stream; False (the stream stopped) when it cannot: edit it instead."""
        stream, text = self._open[message_id], defuse(text)
        if self._clock() - stream.started < LIFETIME and text.startswith(stream.sent):
            try:
                await self._append(message_id, stream, text[len(stream.sent) :])
                return True
            except SlackApiError as error:
                code = str(error.response.get("error"))
                if code in REFUSED:  # the workspace took the start, yet does not stream: its next replies post
                    self._streaming.refused(self._team, code)
                log.warning("Slack: appending to stream %s failed (%s): updating it", message_id, code)
        await self.stop(message_id)
        return False

    async def stop(self, message_id: str) -> str | None:
        """Stop the stream; the text it showed when Slack had ended it already (then update the message to it)."""
        stream = self._open.pop(message_id, None)
        if stream is None:
            return None
        if self._clock() - stream.started < LIFETIME:
            try:
                await self._client.chat_stopStream(channel=self._channel, ts=message_id)
                return None
            except SlackApiError as error:
                log.info("Slack: stopping stream %s failed (%s): updating it", message_id, error.response.get("error"))
        return stream.sent

    async def end_orphan(self, message_id: str) -> None:
        """Stop a stream another process started and can no longer finish (it died mid-reply), so that the
        message can be edited; Slack answers an error for a message that is not streaming, which is fine."""
        try:
            await self._client.chat_stopStream(channel=self._channel, ts=message_id)
        except SlackApiError as error:
            log.debug("Slack: message %s was not streaming (%s)", message_id, error.response.get("error"))

    async def _append(self, message_id: str, stream: Stream, text: str) -> None:
        for start in range(0, len(text), CALL_CHARS):
            piece = text[start : start + CALL_CHARS]
            await self._client.chat_appendStream(channel=self._channel, ts=message_id, markdown_text=piece)
            stream.sent += piece
