"""Reading the JSON logs of a parley process: every stderr line parsed, the lines of one trace, and the checks the
JSON-log tests share (no message text at INFO; the worker's lines that follow one message)."""

from __future__ import annotations

import json
from typing import Any

QUESTION = "zebra-quokka-71 how far is the moon"
ANSWER = "marmalade-platypus-93: about 384,400 km"


def json_lines(err: str) -> list[dict[str, Any]]:
    """Every line of a process's stderr, each a JSON object (an assertion names the first that is not)."""
    found = []
    for line in err.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(parsed, dict), line
        found.append(parsed)
    return found


def accepted(lines: list[dict[str, Any]], platform: str, event_id: str) -> dict[str, Any]:
    """The ingress's one accept line of an event."""
    (line,) = [line for line in lines if line["message"].startswith(f"accepted {platform} event {event_id} in ")]
    return line


def of_trace(lines: list[dict[str, Any]], trace_id: str) -> list[str]:
    return [line["message"] for line in lines if line.get("trace_id") == trace_id]


def assert_no_text_at_info(lines: list[dict[str, Any]]) -> None:
    for line in lines:
        if line["level"] != "DEBUG":
            assert "zebra-quokka" not in json.dumps(line) and "marmalade-platypus" not in json.dumps(line), line


def assert_follows_the_message(messages: list[str]) -> None:
    """The worker's lines of one message: it took the job, the backend answered, the reply was posted."""
    assert any(text.startswith("answering job ") for text in messages), messages
    assert any(text.startswith("backend openai model ") and " answered in " in text for text in messages), messages
    assert any(text.startswith("reply posted: message ") for text in messages), messages
