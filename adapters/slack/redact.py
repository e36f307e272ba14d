"""Slack tokens kept out of the logs, whichever workspace they belong to.

The environment's tokens are masked by the CLI's log filter; the tokens of
workspaces installed with OAuth are not known to it, and slack_sdk logs every
Web API answer at debug level, oauth.v2.access's ``access_token`` included.
"""

from __future__ import annotations

import logging
import re

TOKEN = re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+")
MASK = "xox?-***"


class MaskSlackTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN.search(message):
            record.msg, record.args = TOKEN.sub(MASK, message), None
        return True


def mask_tokens(logger: logging.Logger) -> logging.Logger:
    """The logger, with the filter (once); Bolt copies a base logger's filters into the loggers it derives."""
    if not any(isinstance(f, MaskSlackTokens) for f in logger.filters):
        logger.addFilter(MaskSlackTokens())
    return logger
