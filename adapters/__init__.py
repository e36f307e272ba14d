"""Platform adapters: each turns its platform's events into ``bot.messages.IncomingMessage``
and implements ``bot.sink.ReplySink`` to show the core's replies."""
