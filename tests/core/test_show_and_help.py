"""/show and /help line up in columns, whatever the longest setting's name, and show seconds as people write them."""

from __future__ import annotations

from bot.commands import help_text
from bot.conversation import Conversation
from bot.settings import KEYS
from tests.support.messages import msg
from tests.support.recording_sink import RecordingSink


def value_columns(lines: list[str]) -> set[int]:
    """Where the text after each line's key starts."""
    columns = set()
    for line in lines:
        key = line.split()[0]
        rest = line[2 + len(key) :]
        columns.add(2 + len(key) + len(rest) - len(rest.lstrip()))
    return columns


def test_help_lines_up_every_setting() -> None:
    text = help_text()
    lines = text.split("Settings:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in lines] == list(KEYS)
    assert len(value_columns(lines)) == 1, text


async def test_show_lines_up_every_setting_and_shows_whole_seconds(core: Conversation, sink: RecordingSink) -> None:
    await core.receive(msg("/show"), sink)
    lines = sink.last.splitlines()[1:]
    assert [line.split()[0] for line in lines] == list(KEYS)
    assert len(value_columns(lines)) == 1, sink.last
    sources = {line.rindex("  (") for line in lines}
    assert len(sources) == 1, sink.last
    (timeout,) = [line for line in lines if line.split()[0] == "reply_timeout_seconds"]
    assert timeout.split()[1] == "300"
