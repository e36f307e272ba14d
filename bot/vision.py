"""Which models see images, when a backend does not say (``vision = true`` or ``false``): pure, no I/O."""

from __future__ import annotations

import re

SEEING_MODELS = re.compile(
    r"(^|/)("
    r"gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-4-vision|gpt-5|o1(?!-mini)|o3|o4-mini|chatgpt-4o"
    r"|claude-3|claude-(sonnet|opus|haiku)-4"
    r"|gemini|llava|bakllava|llama3\.2-vision|llama-3\.2-\d+b-vision|llama-4|qwen2(\.5)?-vl|qwen-vl"
    r"|pixtral|mistral-(small|medium)-3|gemma-?3|minicpm-v|moondream|internvl"
    r")",
    re.IGNORECASE,
)
"""Model names (with or without a provider prefix such as ``openai/``) known to take image parts."""


def sees_images(model: str | None, configured: bool | None = None) -> bool:
    """The backend's ``vision`` key when it is set, else whether the model is one known to see images."""
    if configured is not None:
        return configured
    return bool(model and SEEING_MODELS.search(model.strip()))
