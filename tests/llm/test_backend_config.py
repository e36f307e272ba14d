"""Backend types in the config: what each needs, what each refuses, and default context windows."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config
from bot.context_windows import CONTEXT_WINDOWS, DEFAULT_CONTEXT_WINDOW, context_window_for
from bot.llm.backend_config import ANTHROPIC_URL, OPENAI_URL


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "parley.toml"
    path.write_text(text)
    return load_config(path, os.environ)


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    return str(error.value)


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o-mini", 128_000),
        ("gpt-4.1-nano", 1_047_576),
        ("openai/gpt-4o", 128_000),
        ("o3-mini", 200_000),
        ("o1-mini", 128_000),
        ("claude-3-5-haiku-latest", 200_000),
        ("claude-sonnet-4-20250514", 200_000),
        ("llama3.2", 131_072),
        ("llama3.2:3b", 131_072),
        ("llama-3.3-70b-versatile", 131_072),
        ("meta-llama/Meta-Llama-3-8B-Instruct", DEFAULT_CONTEXT_WINDOW),
        ("llama3:8b", 8_192),
        ("Qwen/Qwen2.5-7B-Instruct", 32_768),
        ("mistral-large-latest", 131_072),
        ("mistral:7b", 32_768),
        ("gemma3:12b", 131_072),
        ("gemma2:9b", 8_192),
        ("my-finetune", DEFAULT_CONTEXT_WINDOW),
        (None, DEFAULT_CONTEXT_WINDOW),
    ],
)
def test_context_windows_of_well_known_models(model: str | None, window: int) -> None:
    assert context_window_for(model) == window


def test_each_type_gets_its_defaults(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[backends.gpt]\nmodel = "gpt-4o"\n\n'
        '[backends.claude]\ntype = "anthropic"\nmodel = "claude-3-5-haiku-latest"\n\n'
        '[backends.az]\ntype = "azure"\nbase_url = "https://r.openai.azure.com/"\ndeployment = "gpt-4o-mini"\n\n'
        '[backends.local]\nbase_url = "http://localhost:11434/v1"\nmodel = "llama3.2"\ncontext_window = 8192\n',
    )
    gpt, claude, az, local = (config.backends[name] for name in ("gpt", "claude", "az", "local"))
    assert (gpt.base_url, gpt.context_window, gpt.api_key_env) == (OPENAI_URL, 128_000, None)
    assert (claude.base_url, claude.api_key_env, claude.api_version) == (
        ANTHROPIC_URL,
        "ANTHROPIC_API_KEY",
        "2023-06-01",
    )
    assert claude.context_window == 200_000
    assert (az.base_url, az.model, az.api_version) == ("https://r.openai.azure.com", "gpt-4o-mini", "2024-10-21")
    assert (az.api_key_env, az.context_window) == ("AZURE_OPENAI_API_KEY", 128_000)
    assert local.context_window == 8192, "the config's own value wins over the table"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('type = "gemini"', "Input should be 'openai', 'anthropic' or 'azure'"),
        ('type = "azure"\ndeployment = "d"', 'type = "azure" needs base_url'),
        ('type = "azure"\nbase_url = "https://r.openai.azure.com"', 'needs deployment = "..."'),
        ('type = "azure"\nbase_url = "https://r.openai.azure.com"\nmodel = "gpt-4o"', "instead of model"),
        ('api_version = "2024-10-21"', '\'api_version\' is only for type = "anthropic" or type = "azure"'),
        ('type = "anthropic"\ndeployment = "x"', "'deployment' is only for type = \"azure\""),
        ("thinking_budget = 2048", "'thinking_budget' is only for type = \"anthropic\""),
        ('type = "anthropic"\nthinking_budget = 100', "thinking_budget: Input should be greater than or equal to 1024"),
        ('type = "anthropic"\nstream_usage = false', '\'stream_usage\' is only for type = "openai" or type = "azure"'),
    ],
)
def test_wrong_backend_settings_say_what_is_allowed(tmp_path: Path, text: str, expected: str) -> None:
    message = problems(tmp_path, f"[backends.b]\n{text}\n")
    assert "[backends.b]" in message and expected in message


def test_max_tokens_is_checked_against_the_default_window(tmp_path: Path) -> None:
    message = problems(tmp_path, '[backends.local]\nmodel = "gemma2"\n[defaults]\nmax_tokens = 9000\n')
    assert "8192-token context window" in message


def test_every_readme_preset_loads_as_documented(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    presets = dict(re.findall(r"```toml\n# preset: ([^\n]+)\n(.*?)```", readme, re.S))
    assert list(presets) == ["OpenAI", "Anthropic", "Azure OpenAI", "Ollama", "vLLM", "LM Studio", "OpenRouter", "Groq"]
    types = {name: next(iter(load(tmp_path, text).backends.values())).type for name, text in presets.items()}
    assert types == {name: "openai" for name in presets} | {"Anthropic": "anthropic", "Azure OpenAI": "azure"}


def test_the_readme_table_of_context_windows_is_the_code_s() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("### Context windows", 1)[1].split("\n\n")[2]
    documented = {int(n.replace(",", "")) for n in re.findall(r"\| ([\d,]+) \|", table)}
    assert documented == {window for _, window in CONTEXT_WINDOWS}
    for name in re.findall(r"`([a-z][\w.-]*)`", table):
        assert context_window_for(name) != DEFAULT_CONTEXT_WINDOW or name in ("llama3", "llama-3", "gemma", "gemma2")


def test_the_first_token_timeout_defaults_to_what_a_person_would_wait(tmp_path: Path) -> None:
    config = load(tmp_path, '[backends.local]\nbase_url = "http://localhost:1/v1"\nmodel = "m"\nread_timeout = 300\n')
    assert config.backends["local"].first_token_timeout == 45.0
    tuned = load(tmp_path, '[backends.local]\nbase_url = "http://localhost:1/v1"\nfirst_token_timeout = 20\n')
    assert tuned.backends["local"].first_token_timeout == 20.0
