"""The web console: the playground and each channel's settings, threads, audit and usage, in a browser.

An adapter like the others: it reaches the core through ``bot.api`` only (``Conversation.admin``).
``mount`` adds it under ``/console`` to ``parley run``'s HTTP server; ``parley console`` serves it
alone (``adapters/web/serve.py``). Without ``PARLEY_ADMIN_TOKEN`` every path answers 404.
"""

from adapters.web.app import mount

__all__ = ["mount"]
