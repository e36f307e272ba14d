"""Logging to stderr, with every known secret masked whatever logger wrote it.

Human-readable lines by default; ``json``: one JSON object per line (``time``, ``level``, ``logger``, ``message``,
``trace_id`` while a message's trace is set (``bot/trace.py``), ``exception`` when one is logged).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from bot.trace import current_trace

MASK = "***"
LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
JSON_ORDER = ("time", "level", "logger", "message", "trace_id", "exception")


class RedactSecrets(logging.Filter):
    """Masks secrets in messages and tracebacks; without ``tracebacks``, an exception is one line."""

    def __init__(self, secrets: Iterable[str], *, tracebacks: bool = True) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._tracebacks = tracebacks

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            if self._tracebacks:
                text = logging.Formatter().formatException(record.exc_info)
            else:
                text = f"  ({type(error).__name__}: {error}; run with -v for the traceback)"
            record.exc_text = self.redact(text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class TraceIds(logging.Filter):
    """Puts the trace the record was logged in on it, as ``trace_id`` (nothing outside a trace)."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id = current_trace()
        if trace_id is not None:
            record.trace_id = trace_id
        return True


class JsonLines(JsonFormatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, then trace_id and exception."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
            timestamp="time",
        )  # ASCII (non-ASCII text escaped): a line stays valid JSON whatever the encoding of stderr

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        first = {key: log_data.pop(key) for key in JSON_ORDER if key in log_data}
        return {**first, **log_data}


def setup_logging(level: str, secrets: Iterable[str], log_format: LogFormat = "text") -> None:
    """Logs go to stderr; tracebacks only at INFO or DEBUG (``-v``), so a terminal chat stays readable.
    ``json``: one JSON object per line, Python's warnings included."""
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    root.setLevel(level)
    handler.addFilter(RedactSecrets(secrets, tracebacks=root.level <= logging.INFO))
    handler.addFilter(TraceIds())
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.captureWarnings(log_format == "json")  # else a warning's own lines would not be JSON
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "bm25s"):  # bm25s sets its own logger to DEBUG when imported
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
