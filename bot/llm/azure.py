"""Azure OpenAI: the OpenAI chat completions API behind a resource's own endpoint.

What differs from OpenAI is only the address and the key's header:
``POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...``
with the key in ``api-key``. The deployment is the backend's ``model`` (config
``deployment``); a channel's ``model`` setting names another deployment of the
same resource. Everything else (streaming, usage, retries, errors) is
``OpenAIBackend``'s.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from bot.config import BackendConfig
from bot.llm.openai import OpenAIBackend
from bot.llm.transport import http_client


class AzureOpenAIBackend(OpenAIBackend):
    @staticmethod
    def _make_client(config: BackendConfig, api_key: str | None) -> httpx.AsyncClient:
        headers = {"api-key": api_key} if api_key else {}
        return http_client(config, headers, path="openai/", params={"api-version": config.api_version or ""})

    def _chat_path(self, model: str) -> str:
        return f"deployments/{quote(model, safe='')}/chat/completions"
