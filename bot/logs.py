"""Logging to stderr, with every known secret masked whatever logger wrote it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

MASK = "***"


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
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    """Logs go to stderr; tracebacks only at INFO or DEBUG (``-v``), so a terminal chat stays readable."""
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    root.setLevel(level)
    handler.addFilter(RedactSecrets(secrets, tracebacks=root.level <= logging.INFO))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    for noisy in ("httpx", "httpcore", "bm25s"):  # bm25s sets its own logger to DEBUG when imported
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
