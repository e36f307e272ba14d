"""LLM backends: one module per wire protocol, all behind ``bot.llm.base.Backend``."""
