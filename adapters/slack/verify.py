"""The first step of every request to /slack/events, before Bolt sees it: the signature, checked on the raw
bytes before anything is parsed, then the body's shape.

A request that is not validly signed gets 401, whatever its headers and body: a missing, empty or non-numeric
timestamp, an old one, a wrong signature, a body that is not UTF-8 (slack_sdk's verifier decodes it and
raises), a body too large to be read. A signed body that is not JSON, or not of the shape Bolt and parley
read (``envelope.py``), gets 400. Bolt gets the rest, and checks the signature again itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from adapters.slack import envelope

TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"
MAX_TIMESTAMP_DIGITS = 12
"""Seconds since 1970 (10 digits until the year 2286); longer is no timestamp Slack sends."""


def refused() -> web.Response:
    return web.json_response({"error": "invalid request"}, status=401)


def not_slack(reason: str) -> web.Response:
    return web.json_response({"error": f"the body is not a Slack event ({reason})"}, status=400)


class SignedRequests:
    """Requests signed with the app's signing secret; with none, no request is."""

    def __init__(self, signing_secret: str | None) -> None:
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def bolt_request(self, request: web.Request) -> AsyncBoltRequest | web.Response:
        """The request for Bolt, or the answer to give instead (401 unsigned, 400 signed but not a Slack body)."""
        try:
            raw = await request.read()
        except (web.HTTPRequestEntityTooLarge, web.RequestPayloadError):  # too large, or its encoding broken:
            return refused()  # a body that cannot be read cannot be checked
        if not self.signed(raw, request.headers.getall(TIMESTAMP, []), request.headers.getall(SIGNATURE, [])):
            return refused()
        text = raw.decode()  # the verifier decoded it already
        headers = _first_values(request.headers)
        content_type = headers.get("content-type", "").split(";")[0] or None  # as Bolt reads it
        try:
            body = parse_body(text, content_type)
        except (ValueError, RecursionError):  # JSON that does not parse, or nests deeper than Python recurses
            return not_slack("malformed JSON")
        reason = envelope.problem(body)
        if reason is not None:
            return not_slack(reason)
        return AsyncBoltRequest(body=text, query=request.query_string, headers=dict(headers))

    def signed(self, raw: bytes, timestamps: list[str], signatures: list[str]) -> bool:
        """One timestamp of digits, one ASCII signature, and slack_sdk's verifier finds them right for ``raw``."""
        if self._verifier is None or len(timestamps) != 1 or len(signatures) != 1:
            return False
        timestamp, signature = timestamps[0], signatures[0]
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
            return False  # int() in the verifier raises on "abc" and ""
        if not signature.isascii():
            return False  # hmac.compare_digest raises on other strings
        try:
            return self._verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)
        except UnicodeDecodeError:  # the verifier decodes the body as UTF-8
            return False


def _first_values(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers as Bolt reads them (lower-case names), the first value of a repeated one."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        found.setdefault(name.lower(), value)
    return found
