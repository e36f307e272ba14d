"""The floor bots' model call: one streamed chat completion over httpx, read with httpx-sse, nothing else."""

from __future__ import annotations

import json
import os

import httpx
from httpx_sse import aconnect_sse


class FloorModel:
    """One pooled httpx client without a connection cap (the floor: as fast as this machine allows)."""

    def __init__(self) -> None:
        self._base = os.environ["OPENAI_BASE_URL"].rstrip("/")
        self._key = os.environ["OPENAI_API_KEY"]
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=1000)
        self._client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120, connect=10))

    async def answer(self, text: str) -> str:
        body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": text}]}
        headers = {"Authorization": f"Bearer {self._key}"}
        parts: list[str] = []
        url = self._base + "/chat/completions"
        async with aconnect_sse(self._client, "POST", url, json=body, headers=headers) as source:
            source.response.raise_for_status()
            async for event in source.aiter_sse():
                if event.data == "[DONE]":
                    break
                for choice in json.loads(event.data).get("choices", []):
                    parts.append(choice.get("delta", {}).get("content") or "")
        return "".join(parts)

    async def aclose(self) -> None:
        await self._client.aclose()
