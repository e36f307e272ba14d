"""Hypothesis strategies for what Discord's gateway could send parley: MESSAGE_CREATE and INTERACTION_CREATE
payloads that are well-formed with odd content, damaged (a field missing or of another type), or no message at all.

Built on a fake Discord's world (its server, channels, users and the bot)::

    payloads = Payloads(discord_fake)
    payloads.chatter()       # messages never for the bot, whole or damaged, and JSON that is no message
    payloads.for_the_bot()   # messages that mention the bot (or are in a DM): odd content, files, damage
    payloads.interactions()  # /parley commands, whole or damaged, and JSON that is no interaction
"""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from adapters.discord.intake import message_problem
from tests.support.fake_discord import FakeDiscord

Payload = dict[str, Any]
TEXT_CHANNEL, DM = 0, 1  # Discord's channel types

SNOWFLAKES: SearchStrategy[Any] = st.one_of(
    st.integers(min_value=0, max_value=2**64).map(str),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["", "0", "-1", "abc", "1e3", " 12", "99999999999999999999999999"]),
)
LEAVES: SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    SNOWFLAKES,
)
JSON: SearchStrategy[Any] = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
"""Any JSON value: what a damaged field may hold instead of its own."""

ODD_TEXT = [
    "@everyone", "@here", "/reset", "reset", "/set temperature 0.5", "/show", "```", "```python\n", "\n", "\r\n",
    "\u200b", "\x00", "\x1b[31m", "<http:a", "<@", "<@!>", "<@&>", "<#>", "<@1>", "<@&1>", "<#1>", "<a:x:1>",
    "<:y:2>", "\u202e", "\U0001f642", "  ", "\t", "||spoiler||", "> quote", "# heading", "[link](http://x)",
]  # fmt: skip


def _dicts_in(value: Any) -> list[dict[str, Any]]:
    """Every JSON object in ``value``, itself first."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        found.append(value)
        for inner in value.values():
            found += _dicts_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _dicts_in(inner)
    return found


@st.composite
def damaged(draw: DrawFn, whole: SearchStrategy[Payload]) -> Payload:
    """A payload with one to three fields, anywhere in it, removed or given a value of another type."""
    payload = copy.deepcopy(draw(whole))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = draw(st.sampled_from(_dicts_in(payload)))
        if not target:
            continue
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(JSON)
    return payload


class Payloads:
    def __init__(self, world: FakeDiscord) -> None:
        self.world = world
        bot = world.app_id
        self.addressing = [world.mention, f"<@!{bot}>", f"<@&{world.bot_role}>"]
        """The ways a message mentions the bot (its managed role counts as the bot)."""
        self.not_addressing = [
            f"<@{world.alice['id']}>", f"<@{world.otherbot['id']}>", f"<@&{world.mods_role}>", f"<@&{world.guild}>",
            f"<#{world.general}>", f"<#{world.random}>", "<@99999999999999999999999>", f"<@{bot}1>",
        ]  # fmt: skip
        self.someones_thread = world.open_thread(world.general, "alice's thread")["id"]
        self.bots_thread = world.open_thread(world.general, "parley's thread", owner=bot)["id"]
        self.dm = world.open_dm(world.bob)
        self.files = [
            world._attach("notes.txt", "text/plain", b"some notes\n"),
            world._attach("report.pdf", "application/pdf", b"%PDF-1.4 not really a pdf"),
            world._attach("photo.png", "image/png", b"\x89PNG\r\n\x1a\n broken"),
        ]
        self.missing_file_url = f"{world.cdn_url}/attachments/0/missing.txt"
        self.unreachable_url = "http://127.0.0.1:9/nothing-listens-here.txt"

    # -- message content ------------------------------------------------------------------------------
    def _text(self, extra: list[str]) -> SearchStrategy[str]:
        pieces = st.sampled_from(ODD_TEXT + self.not_addressing + extra) | st.text(max_size=20)
        short = st.lists(pieces, max_size=10).map("".join)
        huge = st.tuples(pieces, st.integers(min_value=300, max_value=3000)).map(lambda found: found[0] * found[1])
        return st.one_of(short, short, short, huge)

    def _mentions(self, content: str) -> SearchStrategy[list[Any]]:
        world = self.world
        users = [world.bot, world.alice, world.bob, world.otherbot]
        named = [user for user in users if re.search(rf"<@!?{user['id']}>", content)]
        stranger = {"id": "4242", "username": "stranger", "discriminator": "0", "avatar": None}
        return st.sampled_from([named, named, [*named, stranger], [*named, world.alice], []])

    def chatter(self) -> SearchStrategy[Any]:
        """MESSAGE_CREATE payloads that are never for the bot: not addressed to it (whole or damaged),
        or any JSON at all."""
        whole = _message(self, for_bot=False)
        broken = damaged(whole).filter(self._not_a_dm_elsewhere)
        return st.one_of(whole, broken, broken, JSON, st.dictionaries(st.text(max_size=12), JSON))

    def for_the_bot(self) -> SearchStrategy[Payload]:
        """MESSAGE_CREATE payloads that mention the bot or are in a DM: odd content, files, replies; whole
        or damaged."""
        whole = _message(self, for_bot=True)
        return st.one_of(whole, whole, damaged(whole).filter(self._not_a_dm_elsewhere))

    def _not_a_dm_elsewhere(self, payload: Payload) -> bool:
        """Damage can make a message a DM (no server) in a thread or a channel that does not exist. discord.py
        cannot tell (it learns a DM channel from its first message, and a thread it has not cached is unknown
        to it), and a DM is always for the bot; but Discord sends no such message: these are left out. A DM
        in a server's text channel, which discord.py knows, stays in (parley ignores it)."""
        if "guild_id" in payload or message_problem(payload) is not None:
            return True
        channel = self.world.channels.get(str(payload["channel_id"]))
        return channel is not None and channel["type"] in (DM, TEXT_CHANNEL)

    def interactions(self) -> SearchStrategy[Any]:
        """INTERACTION_CREATE payloads: /parley commands (odd ones, other interaction types), damaged, or any JSON."""
        whole = _slash(self)
        return st.one_of(whole, damaged(whole), damaged(whole), JSON, st.dictionaries(st.text(max_size=12), JSON))


@st.composite
def _message(draw: DrawFn, payloads: Payloads, *, for_bot: bool) -> Payload:
    world = payloads.world
    if for_bot:
        places = [world.general, payloads.someones_thread, payloads.bots_thread, payloads.dm, world.random]
    else:
        places = [world.general, world.random, payloads.someones_thread]
    place = draw(st.sampled_from(places))
    authors = [world.alice, world.bob, world.otherbot, world.bot] if for_bot else [world.alice, world.bob]
    author = draw(st.sampled_from(authors))
    content = draw(payloads._text(payloads.addressing if for_bot else []))
    if for_bot and place != payloads.dm:
        address = draw(st.sampled_from(payloads.addressing))
        content = draw(st.sampled_from([f"{address} {content}", f"{content} {address}", address]))
    kind = draw(st.sampled_from([0, 0, 0, 0, 19, 6, 7, 18, 20, 21, 46]))
    payload = world._message(world.channels[place], author, content, kind=kind)
    if not for_bot:
        payload["content"] = content.replace(world.app_id, "1")  # nothing in it may name the bot
    payload["mentions"] = [m for m in draw(payloads._mentions(payload["content"])) if for_bot or m != world.bot]
    roles = re.findall(r"<@&(\d+)>", payload["content"])
    payload["mention_roles"] = draw(st.sampled_from([roles, [*roles, "1"], []]))
    payload["attachments"] = draw(st.lists(_attachment(payloads), max_size=3))
    if draw(st.booleans()):
        target = draw(st.sampled_from([world.new_id(), "1"]))
        payload["message_reference"] = {"type": 0, "message_id": target, "channel_id": place}
    return payload


@st.composite
def _attachment(draw: DrawFn, payloads: Payloads) -> Payload:
    base = draw(st.sampled_from(payloads.files))
    attachment = {**base, "id": payloads.world.new_id()}
    attachment["filename"] = draw(
        st.sampled_from([base["filename"], "", "../../etc/passwd", "x" * 300, "a\u202etxt.exe", "no-extension"])
        | st.text(max_size=20)
    )
    attachment["content_type"] = draw(st.sampled_from([base["content_type"], "", "text/plain; charset=utf-8"]))
    if draw(st.booleans()):
        del attachment["content_type"]
    url = draw(st.sampled_from([base["url"], payloads.missing_file_url, payloads.unreachable_url]))
    attachment["url"] = attachment["proxy_url"] = url
    attachment["size"] = draw(st.sampled_from([base["size"], 0, 10**12]))
    return attachment


@st.composite
def _slash(draw: DrawFn, payloads: Payloads) -> Payload:
    world = payloads.world
    place = draw(st.sampled_from([world.general, payloads.someones_thread, payloads.dm]))
    user = draw(st.sampled_from([world.alice, world.bob]))
    sub, options = draw(
        st.sampled_from(
            [
                ("show", {}),
                ("help", {}),
                ("usage", {}),
                ("usage", {"date": "not-a-date"}),
                ("set", {"key": "temperature", "value": "0.5"}),
                ("set", {"key": "system_prompt", "value": "@everyone listen"}),
                ("set", {"key": "no_such_key", "value": "1"}),
                ("unset", {"key": "temperature"}),
                ("nonsense", {}),
            ]
        )
    )
    payload = world.slash_payload(place, user, sub, **options)
    payload["type"] = draw(st.sampled_from([2, 2, 2, 1, 3, 4, 5, 99]))
    return payload
