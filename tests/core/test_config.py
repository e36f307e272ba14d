"""Configuration: the TOML file, environment overrides, zero-config backends, and errors that say where."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import (
    NO_BACKEND_HELP,
    Config,
    ConfigError,
    find_config_file,
    load_config,
)
from bot.config_errors import format_errors
from bot.llm.backend_config import OPENAI_DEFAULT_MODEL, OPENAI_URL
from bot.settings import KEYS, resolve
from bot.threads import ChannelKey

EXAMPLE = """\
admins = ["slack:U0ADMIN", "discord:42"]
log_level = "INFO"
redis_url = "redis://file-host:6379/0"

[history]
ttl_days = 14
max_turns = 50

[backends.openai]
base_url = "https://api.openai.com/v1"
api_key_env = "MY_OPENAI_KEY"
model = "gpt-4o-mini"

[backends.local]
base_url = "http://localhost:11434/v1/"
model = "llama3.2"
context_window = 32768

[defaults]
temperature = 0.2
max_tokens = 800
system_prompt = "Be brief."

[[channels]]
match = "slack:*"
trigger = "mention"
temperature = 0.4

[[channels]]
match = "slack:T1/C42"
backend = "local"
stop = ["END", "###"]
history_turns = 5
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keys, Redis URLs, PARLEY_* settings and a parley.toml from the outside world never reach these tests."""
    for name in list(os.environ):
        if name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "REDIS_URL") or name.startswith("PARLEY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text), os.environ)


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, text)
    return str(error.value)


# --- a complete file ---------------------------------------------------------------------------


def test_complete_example_loads(tmp_path: Path) -> None:
    config = load(tmp_path, EXAMPLE)
    assert config.admins == ["slack:U0ADMIN", "discord:42"]
    assert config.log_level == "INFO"
    assert config.redis_url == "redis://file-host:6379/0"
    assert (config.history.ttl_days, config.history.max_turns) == (14, 50)
    assert list(config.backends) == ["openai", "local"]
    assert config.default_backend == "openai", "the first backend in the file"
    local = config.backends["local"]
    assert local.base_url == "http://localhost:11434/v1", "a trailing slash is dropped"
    assert (local.model, local.context_window, local.api_key_env) == ("llama3.2", 32768, None)
    assert config.backends["openai"].api_key_env == "MY_OPENAI_KEY"
    assert config.defaults == {"temperature": 0.2, "max_tokens": 800, "system_prompt": "Be brief."}
    assert [rule.match for rule in config.channels] == ["slack:*", "slack:T1/C42"]
    assert config.channels[0].settings == {"trigger": "mention", "temperature": 0.4}
    assert config.channels[1].settings == {"backend": "local", "stop": ["END", "###"], "history_turns": 5}


def test_admins_are_platform_and_user(tmp_path: Path) -> None:
    config = load(tmp_path, EXAMPLE)
    assert config.is_admin("slack", "U0ADMIN")
    assert config.is_admin("discord", "42")
    assert not config.is_admin("discord", "U0ADMIN")
    assert not config.is_admin("slack", "U0OTHER")


def test_layers_for_a_channel_follow_the_file(tmp_path: Path) -> None:
    config = load(tmp_path, EXAMPLE)
    layers = config.layers_for(ChannelKey("slack", "T1", "C42"))
    assert [layer.source for layer in layers] == [
        "[defaults]",
        "channel rule 1 (slack:*)",
        "channel rule 2 (slack:T1/C42)",
    ]
    resolved = resolve(layers)
    assert resolved.settings.temperature == 0.4
    assert resolved.settings.backend == "local"
    assert resolved.settings.max_tokens == 800
    assert resolved.sources["temperature"] == "channel rule 1 (slack:*)"
    assert resolved.sources["history_turns"] == "channel rule 2 (slack:T1/C42)"
    other = config.layers_for(ChannelKey("discord", "G1", "C1"))
    assert [layer.source for layer in other] == ["[defaults]"]


def test_secrets_are_read_from_the_named_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_OPENAI_KEY", "sk-from-env")
    assert load(tmp_path, EXAMPLE).secrets(os.environ) == ["sk-from-env"]


def test_no_file_gives_defaults() -> None:
    config = load_config(None, os.environ)
    assert config.backends == {}
    assert config.channels == [] and config.defaults == {} and config.admins == []
    assert config.history.ttl_days == 30


# --- the environment overrides the file -----------------------------------------------------------


def test_env_overrides_file_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_DEFAULTS__TEMPERATURE", "0.9")
    monkeypatch.setenv("PARLEY_HISTORY__TTL_DAYS", "3")
    monkeypatch.setenv("REDIS_URL", "redis://env-host:6379/1")
    config = load(tmp_path, EXAMPLE)
    assert config.defaults["temperature"] == 0.9
    assert config.defaults["max_tokens"] == 800, "the rest of [defaults] still comes from the file"
    assert config.history.ttl_days == 3
    assert config.history.max_turns == 50, "the rest of [history] still comes from the file"
    assert config.redis_url == "redis://env-host:6379/1"


def test_parley_redis_url_works_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_REDIS_URL", "redis://other:6379")
    assert load(tmp_path, EXAMPLE).redis_url == "redis://other:6379"


def test_env_values_are_checked_like_file_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_DEFAULTS__TEMPERATURE", "7")
    message = problems(tmp_path, EXAMPLE)
    assert "[defaults]" in message and "0 to 2" in message


def test_env_stop_may_be_one_string_or_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_DEFAULTS__STOP", "END")
    assert load_config(None, os.environ).defaults["stop"] == ["END"]
    monkeypatch.setenv("PARLEY_DEFAULTS__STOP", '["END", "###"]')
    assert load_config(None, os.environ).defaults["stop"] == ["END", "###"]


@pytest.mark.parametrize("name", ["PARLEY_DEFAULTS__TEMPERATURE", "PARLEY_HISTORY__TTL_DAYS", "REDIS_URL"])
def test_empty_env_vars_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "")
    config = load(tmp_path, EXAMPLE)
    assert config.defaults["temperature"] == 0.2
    assert config.history.ttl_days == 14
    assert config.redis_url == "redis://file-host:6379/0"


def test_parley_config_in_env_is_not_taken_for_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, EXAMPLE)
    monkeypatch.setenv("PARLEY_CONFIG", str(path))
    assert load_config(find_config_file(None, os.environ), os.environ).defaults["temperature"] == 0.2


# --- refused, with the place in the file ---------------------------------------------------------


def test_api_key_in_the_file_is_refused_pointing_to_api_key_env(tmp_path: Path) -> None:
    message = problems(tmp_path, '[backends.openai]\napi_key = "sk-oops"\n')
    assert "[backends.openai]" in message
    assert "api_key_env" in message
    assert "sk-oops" not in message, "the secret is not echoed back"


@pytest.mark.parametrize("key", ["key", "token", "secret"])
def test_other_secret_looking_keys_are_refused(tmp_path: Path, key: str) -> None:
    assert "api_key_env" in problems(tmp_path, f'[backends.x]\n{key} = "s3cret"\n')


def test_errors_name_the_file_and_count_the_problems(tmp_path: Path) -> None:
    message = problems(tmp_path, '[history]\nttl_days = 0\n[backends.local]\nbase_url = "localhost"\n')
    first = message.splitlines()[0]
    assert first == f"{tmp_path / 'config.toml'}: 2 problem(s):"
    assert len(message.splitlines()) == 3


def test_unknown_key_in_a_backend(tmp_path: Path) -> None:
    message = problems(tmp_path, '[backends.local]\nbase_url = "http://h/v1"\nmodle = "x"\n')
    assert "[backends.local] modle: unknown key; allowed here:" in message
    assert "model" in message and "base_url" in message and "context_window" in message


def test_bad_base_url(tmp_path: Path) -> None:
    message = problems(tmp_path, '[backends.local]\nbase_url = "localhost:11434"\n')
    assert "[backends.local] base_url: 'localhost:11434' must start with http:// or https://" in message


def test_bad_number_in_a_backend_shows_the_value(tmp_path: Path) -> None:
    message = problems(tmp_path, '[backends.local]\ncontext_window = "big"\n')
    assert "[backends.local] context_window:" in message and "'big'" in message


def test_unknown_key_in_history(tmp_path: Path) -> None:
    message = problems(tmp_path, "[history]\nttl = 3\n")
    assert "[history] ttl: unknown key; allowed here: ttl_days, max_turns" in message


def test_bad_value_in_history(tmp_path: Path) -> None:
    assert "[history] ttl_days: Input should be greater than 0 (got 0)" in problems(
        tmp_path, "[history]\nttl_days = 0\n"
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = problems(tmp_path, 'redis = "x"\n')
    assert "redis: unknown key; allowed here:" in message
    assert "redis_url" in message


def test_unknown_setting_in_defaults(tmp_path: Path) -> None:
    message = problems(tmp_path, "[defaults]\ntemprature = 0.2\n")
    assert "[defaults]: unknown setting 'temprature'" in message
    assert all(key in message for key in KEYS)


def test_bad_setting_in_defaults(tmp_path: Path) -> None:
    message = problems(tmp_path, "[defaults]\ntemperature = 7\n")
    assert "[defaults]: temperature:" in message and "0 to 2" in message


def test_problems_in_a_channel_rule_name_its_number_and_match(tmp_path: Path) -> None:
    text = '[[channels]]\nmatch = "console:*"\n\n[[channels]]\nmatch = "slack:*"\ntemprature = 0.4\n'
    message = problems(tmp_path, text)
    assert "[[channels]] #2 (match = 'slack:*'): unknown setting 'temprature'" in message
    text = '[[channels]]\nmatch = "console:*"\n\n[[channels]]\nmatch = "slack:*"\ntemperature = 9\n'
    message = problems(tmp_path, text)
    assert "[[channels]] #2 (match = 'slack:*'): temperature:" in message and "0 to 2" in message


def test_channel_rule_settings_table_is_checked_too(tmp_path: Path) -> None:
    message = problems(tmp_path, '[[channels]]\nmatch = "slack:*"\nsettings = {temperature = 9}\n')
    assert "[[channels]] #1 (match = 'slack:*')" in message and "0 to 2" in message


def test_channel_rule_match_must_be_a_pattern(tmp_path: Path) -> None:
    message = problems(tmp_path, '[[channels]]\nmatch = "general"\n')
    assert "[[channels]] #1 (match = 'general') match:" in message
    assert "platform:workspace/channel" in message


def test_channel_rule_without_match(tmp_path: Path) -> None:
    message = problems(tmp_path, "[[channels]]\ntemperature = 0.2\n")
    assert "[[channels]] #1 match: Field required" in message


def test_channel_rule_naming_an_unknown_backend_lists_configured_ones(tmp_path: Path) -> None:
    text = EXAMPLE + '\n[[channels]]\nmatch = "discord:*"\nbackend = "anthropic"\n'
    message = problems(tmp_path, text)
    assert "[[channels]] #3 (match = 'discord:*')" in message
    assert "unknown backend 'anthropic'" in message
    assert "configured backends: local, openai" in message


def test_defaults_naming_an_unknown_backend(tmp_path: Path) -> None:
    message = problems(tmp_path, '[backends.local]\n[defaults]\nbackend = "remote"\n')
    assert "[defaults]" in message and "unknown backend 'remote'" in message and "local" in message


def test_unknown_backend_with_none_configured(tmp_path: Path) -> None:
    message = problems(tmp_path, '[defaults]\nbackend = "remote"\n')
    assert "none are configured" in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = '[history]\nzap = 1\n[backends.local]\nbase_url = "nope"\n[defaults]\nbar = 1\n'
    message = problems(tmp_path, text)
    assert message.splitlines()[0].endswith("3 problem(s):")
    assert "[history] zap" in message and "[backends.local] base_url" in message and "[defaults]" in message


def test_invalid_toml_says_so(tmp_path: Path) -> None:
    message = problems(tmp_path, "[defaults\ntemperature = 0.2\n")
    assert "not valid TOML" in message
    assert str(tmp_path / "config.toml") in message


def test_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path, os.environ)


def test_format_errors_directly() -> None:
    data = {
        "backends": {"local": {"base_url": "ftp://x"}},
        "channels": [{"match": "a:b"}, {"match": "slack:*", "top_p": 3}],
    }
    with pytest.raises(ValidationError) as error:
        Config(**data)  # type: ignore[arg-type]
    text = format_errors("parley.toml", error.value, data, Config, os.environ)
    assert text.splitlines()[0] == "parley.toml: 2 problem(s):"
    assert "  [backends.local] base_url: 'ftp://x' must start with http:// or https://" in text.splitlines()
    assert any(line.startswith("  [[channels]] #2 (match = 'slack:*'): top_p:") for line in text.splitlines())


def test_env_only_errors_say_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_HISTORY__TTL_DAYS", "-1")
    with pytest.raises(ConfigError) as error:
        load_config(None, os.environ)
    assert str(error.value).startswith("environment: 1 problem(s):")
    assert "[history] ttl_days" in str(error.value)


# --- zero-config backends ------------------------------------------------------------------------


def test_openai_api_key_alone_gives_the_openai_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-zero-config")
    config = load_config(None, os.environ)
    assert list(config.backends) == ["openai"]
    backend = config.backends["openai"]
    assert backend.base_url == OPENAI_URL == "https://api.openai.com/v1"
    assert backend.api_key_env == "OPENAI_API_KEY"
    assert backend.model == OPENAI_DEFAULT_MODEL == "gpt-4o-mini"
    assert config.default_backend == "openai"
    assert config.secrets(os.environ) == ["sk-zero-config"]


def test_openai_base_url_alone_gives_a_keyless_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    config = load_config(None, os.environ)
    backend = config.backends["openai"]
    assert backend.base_url == "http://localhost:11434/v1"
    assert backend.api_key_env is None
    assert backend.model is None, "the server's first model is used"
    assert config.secrets(os.environ) == []


def test_key_and_base_url_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example/v1")
    backend = load_config(None, os.environ).backends["openai"]
    assert (backend.base_url, backend.api_key_env, backend.model) == (
        "https://proxy.example/v1",
        "OPENAI_API_KEY",
        None,
    )


def test_base_url_of_openai_itself_keeps_the_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1/")
    backend = load_config(None, os.environ).backends["openai"]
    assert (backend.base_url, backend.model) == (OPENAI_URL, OPENAI_DEFAULT_MODEL)


def test_neither_gives_no_backend_and_a_helpful_error() -> None:
    config = load_config(None, os.environ)
    assert config.backends == {}
    with pytest.raises(ConfigError) as error:
        _ = config.default_backend
    assert str(error.value) == NO_BACKEND_HELP
    assert "OPENAI_API_KEY" in NO_BACKEND_HELP and "OPENAI_BASE_URL" in NO_BACKEND_HELP


def test_empty_openai_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    assert load_config(None, os.environ).backends == {}


def test_backends_in_the_file_win_over_zero_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    config = load(tmp_path, '[backends.local]\nbase_url = "http://localhost:8080/v1"\n')
    assert list(config.backends) == ["local"]


def test_zero_config_backend_can_be_named_by_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    config = load(tmp_path, '[[channels]]\nmatch = "slack:*"\nbackend = "openai"\n')
    assert config.channels[0].settings == {"backend": "openai"}


def test_bad_openai_base_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:11434")
    with pytest.raises(ConfigError) as error:
        load_config(None, os.environ)
    assert "OPENAI_BASE_URL" in str(error.value)
    assert "http://" in str(error.value)


# --- finding the file ----------------------------------------------------------------------------


def test_explicit_config_beats_parley_config_beats_local_file(tmp_path: Path) -> None:
    explicit = write(tmp_path, EXAMPLE, "explicit.toml")
    from_env = write(tmp_path, EXAMPLE, "from-env.toml")
    local = write(tmp_path, EXAMPLE, "parley.toml")
    environ = {"PARLEY_CONFIG": str(from_env)}
    assert find_config_file(str(explicit), environ) == explicit
    assert find_config_file(None, environ) == from_env
    found = find_config_file(None, {})
    assert found is not None and found.resolve() == local.resolve()


def test_no_file_anywhere_is_fine() -> None:
    assert find_config_file(None, {}) is None


def test_a_parley_toml_elsewhere_is_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, EXAMPLE, "parley.toml")
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert find_config_file(None, {}) is None


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, EXAMPLE, "parley.toml")
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        find_config_file(str(tmp_path / "missing.toml"), {})
    with pytest.raises(ConfigError, match=r"gone\.toml"):
        find_config_file(None, {"PARLEY_CONFIG": str(tmp_path / "gone.toml")})


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        find_config_file(str(tmp_path), {})


def test_empty_parley_config_falls_back_to_local_file(tmp_path: Path) -> None:
    local = write(tmp_path, EXAMPLE, "parley.toml")
    found = find_config_file(None, {"PARLEY_CONFIG": ""})
    assert found is not None and found.resolve() == local.resolve()


# --- review findings -------------------------------------------------------------------------


def test_a_bad_environment_value_is_blamed_on_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_HISTORY__TTL_DAYS", "abc")
    text = problems(tmp_path, "[history]\nttl_days = 3\n")
    assert "[history] ttl_days (from the environment: PARLEY_HISTORY__TTL_DAYS)" in text


def test_max_tokens_must_fit_the_backends_window(tmp_path: Path) -> None:
    text = problems(tmp_path, '[backends.small]\nbase_url = "http://127.0.0.1:1/v1"\ncontext_window = 1000\n')
    assert "[defaults] max_tokens: 1024 leaves no room" in text and "below 1000" in text
    text = problems(
        tmp_path,
        '[backends.big]\nbase_url = "http://127.0.0.1:1/v1"\ncontext_window = 100000\n'
        '[backends.small]\nbase_url = "http://127.0.0.1:2/v1"\ncontext_window = 4096\n'
        '[defaults]\nmax_tokens = 8000\n[[channels]]\nmatch = "slack:*"\nbackend = "small"\n',
    )
    assert "[[channels]] #1 (match = 'slack:*') max_tokens: 8000" in text


@pytest.mark.parametrize("url", ["redis://localhost:abc/0", "redis://localhost:99999/0", "redis://[::1/0"])
def test_a_malformed_redis_url_is_a_config_error(tmp_path: Path, url: str) -> None:
    assert "not a usable Redis URL" in problems(tmp_path, f'redis_url = "{url}"\n')


@pytest.mark.parametrize("pasted", ["Xy7kQ2mN9pL4vR8sT1wZ5bC3dF6gH0jK", "sk-proj-abc123", "gsk_ABCDEF1234567890"])
def test_a_key_pasted_as_api_key_env_is_refused_and_not_repeated(tmp_path: Path, pasted: str) -> None:
    text = problems(tmp_path, f'[backends.x]\nbase_url = "http://127.0.0.1:1/v1"\napi_key_env = "{pasted}"\n')
    assert "looks like an API key" in text
    assert pasted not in text
