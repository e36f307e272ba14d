"""What each server's error answer means: bodies as OpenAI, Azure, Anthropic, vLLM, Ollama and OpenRouter send them."""

from __future__ import annotations

import json

import pytest

from bot.llm import anthropic, openai

URL = "https://api.example.com/v1/chat/completions"


def body(message: str, **error: str | None) -> bytes:
    return json.dumps({"error": {"message": message, **error}}).encode()


def anthropic_body(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "answer", "kind"),
    [
        pytest.param(
            404,
            body("The model `gpt-9` does not exist or you do not have access to it.", code="model_not_found"),
            "unknown_model",
            id="openai-groq",
        ),
        pytest.param(404, body("The model `qwen-9` does not exist."), "unknown_model", id="vllm"),
        pytest.param(404, body('model "llama9" not found, try pulling it first'), "unknown_model", id="ollama"),
        pytest.param(400, body("openai/gpt-9 is not a valid model ID", code="400"), "unknown_model", id="openrouter"),
        pytest.param(
            404,
            body("The API deployment for this resource does not exist.", code="DeploymentNotFound"),
            "unknown_model",
            id="azure-deployment",
        ),
        pytest.param(404, b"404 page not found", "rejected", id="ollama-without-v1"),
        pytest.param(404, body("Invalid URL (POST /chat/completions)"), "rejected", id="openai-wrong-path"),
        pytest.param(404, body("Resource not found", code="404"), "rejected", id="azure-wrong-path"),
        pytest.param(
            400,
            body("This model's maximum context length is 8192 tokens.", code="context_length_exceeded"),
            "context",
            id="context",
        ),
        pytest.param(401, body("Incorrect API key provided: sk-****"), "auth", id="bad-key"),
    ],
)
def test_openai_compatible_error_answers(status: int, answer: bytes, kind: str) -> None:
    error = openai.status_error(status, answer, {}, URL)
    assert error.kind == kind, error.detail
    if status == 404 and kind == "rejected":
        assert "check base_url" in error.detail


@pytest.mark.parametrize(
    ("status", "answer", "kind"),
    [
        pytest.param(404, anthropic_body("not_found_error", "model: claude-9"), "unknown_model", id="model"),
        pytest.param(404, anthropic_body("not_found_error", "Not Found"), "rejected", id="wrong-path"),
        pytest.param(
            400,
            anthropic_body("invalid_request_error", "prompt is too long: 212000 tokens > 200000 maximum"),
            "context",
            id="prompt-too-long",
        ),
        pytest.param(
            413, anthropic_body("request_too_large", "Request exceeds the maximum size"), "context", id="too-large"
        ),
        pytest.param(529, anthropic_body("overloaded_error", "Overloaded"), "unavailable", id="overloaded"),
        pytest.param(401, anthropic_body("authentication_error", "invalid x-api-key"), "auth", id="bad-key"),
    ],
)
def test_anthropic_error_answers(status: int, answer: bytes, kind: str) -> None:
    assert anthropic.status_error(status, answer, {}, URL).kind == kind
