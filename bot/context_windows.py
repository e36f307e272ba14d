"""Context windows of well-known models, for a backend whose config gives no ``context_window``.

Pure. A model name is matched without its provider prefix (``openai/gpt-4o``,
``meta-llama/Llama-3.1-8B-Instruct``) and without case, by the first pattern
below that matches its start. The numbers are what the model itself accepts;
a server may serve it with less (Ollama's ``num_ctx``, vLLM's
``--max-model-len``): then set ``context_window`` in the config.
"""

from __future__ import annotations

import re

DEFAULT_CONTEXT_WINDOW = 8192
"""For a model this table does not know, or a backend that names no model."""

CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    (r"gpt-4\.1", 1_047_576),
    (r"gpt-5", 400_000),
    (r"gpt-4o", 128_000),
    (r"gpt-4-turbo|gpt-4-\d{4}-preview", 128_000),
    (r"gpt-4-32k", 32_768),
    (r"gpt-3\.5-turbo", 16_385),
    (r"gpt-oss", 131_072),
    (r"o1-mini", 128_000),
    (r"o[134](?![\w.])|o[134]-", 200_000),
    (r"claude-instant|claude-2\.0", 100_000),
    (r"claude-", 200_000),
    (r"llama-?3\.[123]|llama-?4", 131_072),
    (r"llama-?3", 8_192),
    (r"qwen", 32_768),
    (r"mistral-(large|medium|small|nemo)|open-mistral-nemo|ministral", 131_072),
    (r"mistral|mixtral|codestral", 32_768),
    (r"gemma-?3(?!n)", 131_072),
    (r"gemma", 8_192),
    (r"deepseek", 65_536),
)
_COMPILED = tuple((re.compile(pattern), window) for pattern, window in CONTEXT_WINDOWS)


def context_window_for(model: str | None) -> int:
    """The context window of a well-known model, else ``DEFAULT_CONTEXT_WINDOW``."""
    if not model:
        return DEFAULT_CONTEXT_WINDOW
    name = model.strip().lower().rsplit("/", 1)[-1]
    for pattern, window in _COMPILED:
        if pattern.match(name):
            return window
    return DEFAULT_CONTEXT_WINDOW
