"""The test backend's key and a Config wired to a fake LLM server."""

from __future__ import annotations

from typing import Any

from adapters.config import ParleyConfig
from bot.config import BackendConfig, Config

TEST_KEY_ENV = "PARLEY_TEST_API_KEY"
TEST_KEY = "sk-test-0123456789-SECRET-abcdef"


def make_config(fake_url: str, prefix: str, *, backend: dict[str, Any] | None = None, **fields: Any) -> Config:
    settings = {
        "base_url": fake_url,
        "api_key_env": TEST_KEY_ENV,
        "model": "fake-model",
        "read_timeout": 2.0,
        "connect_timeout": 2.0,
        "max_retries": 2,
        **(backend or {}),
    }
    return ParleyConfig(redis_prefix=prefix, backends={"fake": BackendConfig(**settings)}, **fields)
