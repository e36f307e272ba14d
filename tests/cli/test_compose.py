"""Static checks for the Docker packaging: docker-compose.yml, Dockerfile, README."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from aiohttp import web

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
README = ROOT / "README.md"

README_COMMANDS = (
    "docker compose up -d redis",
    "docker compose run --rm parley chat",
    "docker compose up -d bot",
)
BOT_PASSTHROUGH = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "DISCORD_BOT_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {str(k): None if v is None else str(v) for k, v in env.items()}
    result: dict[str, str | None] = {}
    for item in env:
        name, sep, value = str(item).partition("=")
        result[name] = value if sep else None
    return result


def _command_tokens(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(t) for t in command]


def _volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) pairs from short or long volume syntax."""
    mounts = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            mounts.append((str(vol.get("source", "")), str(vol["target"])))
        else:
            source, _, rest = str(vol).partition(":")
            mounts.append((source, rest.split(":")[0]))
    return mounts


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments and line continuations handled."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    result = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def test_services_are_redis_parley_and_bot(services: dict[str, Any]) -> None:
    assert set(services) == {"redis", "parley", "bot"}


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


def test_redis_is_version_7_with_aof(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert re.fullmatch(r"redis:7(\.[\w.-]+|-[\w.-]+)?", redis["image"])
    tokens = _command_tokens(redis["command"])
    assert "--appendonly" in tokens
    assert tokens[tokens.index("--appendonly") + 1] == "yes"


def test_redis_data_is_a_named_volume(compose: dict[str, Any], services: dict[str, Any]) -> None:
    named = set(compose.get("volumes") or {})
    sources = [src for src, target in _volume_mounts(services["redis"]) if target == "/data"]
    assert sources, "redis must mount something at /data"
    assert sources[0] in named


def test_redis_has_ping_healthcheck(services: dict[str, Any]) -> None:
    test = services["redis"]["healthcheck"]["test"]
    joined = test if isinstance(test, str) else " ".join(test)
    assert "redis-cli" in joined and "ping" in joined


@pytest.mark.parametrize("name", ["parley", "bot"])
def test_parley_builds_from_repo_root(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert context in {".", "./"}


@pytest.mark.parametrize("name", ["parley", "bot"])
def test_parley_redis_url_points_at_redis_service(services: dict[str, Any], name: str) -> None:
    url = _environment(services[name])["REDIS_URL"]
    assert url is not None
    parts = urlsplit(url)
    assert parts.scheme == "redis"
    assert parts.hostname == "redis"


@pytest.mark.parametrize("name", ["parley", "bot"])
def test_parley_depends_on_healthy_redis(services: dict[str, Any], name: str) -> None:
    depends = services[name]["depends_on"]
    assert "redis" in depends
    if isinstance(depends, dict):
        assert depends["redis"].get("condition") == "service_healthy"


def test_parley_is_interactive(services: dict[str, Any]) -> None:
    parley = services["parley"]
    assert parley.get("stdin_open") is True
    assert parley.get("tty") is True


def test_bot_runs_every_configured_platform(services: dict[str, Any]) -> None:
    """``parley run`` with no platform named: Slack, Discord or both, whichever tokens are set."""
    assert _command_tokens(services["bot"]["command"]) == ["run"]
    assert services["bot"].get("restart") == "unless-stopped"
    assert not services["bot"].get("tty") and not services["bot"].get("stdin_open")


def test_bot_publishes_port_3000(services: dict[str, Any]) -> None:
    published = set()
    for port in services["bot"]["ports"]:
        if isinstance(port, dict):
            published.add((str(port.get("published")), str(port["target"])))
        else:
            host, _, container = str(port).rpartition(":")
            published.add((host.rpartition(":")[2], container.split("/")[0]))
    assert ("3000", "3000") in published, "parley run listens on 3000 by default (Slack's Events API, /healthz)"


@pytest.mark.parametrize("variable", BOT_PASSTHROUGH)
def test_bot_passes_secrets_through_from_the_shell(services: dict[str, Any], variable: str) -> None:
    value = _environment(services["bot"]).get(variable, "missing")
    assert value is None or re.fullmatch(rf"\$\{{{variable}(:-)?\}}", value), f"{variable}: {value}"


def _healthcheck_command(services: dict[str, Any]) -> list[str]:
    test = services["bot"]["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] == "CMD", "exec form: the image has no shell tools to rely on"
    return [str(token) for token in test[1:]]


def test_bot_healthcheck_uses_only_python(services: dict[str, Any]) -> None:
    command = _healthcheck_command(services)
    assert command[0] == "python", "the image has Python, not curl or wget"
    assert "http://127.0.0.1:3000/healthz" in " ".join(command)


async def test_bot_healthcheck_fails_unless_healthz_answers_200(services: dict[str, Any]) -> None:
    """The healthcheck's own command, run here against a loopback /healthz: 200 passes, 503 or no server fails."""
    status = {"code": 200}

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": status["code"] == 200}, status=status["code"])

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    command = [part.replace("127.0.0.1:3000", f"127.0.0.1:{port}") for part in _healthcheck_command(services)]
    command[0] = sys.executable

    async def exit_status() -> int:
        process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
        return await asyncio.wait_for(process.wait(), 30)

    try:
        assert await exit_status() == 0
        status["code"] = 503  # Redis unreachable
        assert await exit_status() != 0
    finally:
        await runner.cleanup()
    assert await exit_status() != 0, "nothing listening"


def test_dockerfile_base_is_slim_python_311() -> None:
    assert DOCKERFILE.is_file()
    froms = [args for kw, args in _dockerfile_instructions() if kw == "FROM"]
    assert froms
    image = next(t for t in froms[-1].split() if not t.startswith("--"))
    assert re.fullmatch(r"(docker\.io/)?(library/)?python:3\.11(\.\d+)?-slim(-\w+)?", image)


def test_dockerfile_runs_as_non_root() -> None:
    users = [args for kw, args in _dockerfile_instructions() if kw == "USER"]
    assert users, "Dockerfile needs a USER line"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_entrypoint_is_parley() -> None:
    entrypoints = [args for kw, args in _dockerfile_instructions() if kw == "ENTRYPOINT"]
    assert entrypoints
    args = entrypoints[-1]
    tokens = yaml.safe_load(args) if args.startswith("[") else shlex.split(args)
    assert tokens[0] == "parley"


# README must document what the compose file relies on.


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_readme_names_every_service(readme: str, services: dict[str, Any]) -> None:
    missing = [name for name in services if name not in readme]
    assert not missing, f"README.md does not mention services: {missing}"


@pytest.mark.parametrize("name", ["parley", "bot"])
def test_readme_names_every_parley_env_var(readme: str, services: dict[str, Any], name: str) -> None:
    missing = [variable for variable in _environment(services[name]) if variable not in readme]
    assert not missing, f"README.md does not mention environment variables: {missing}"


@pytest.mark.parametrize("command", README_COMMANDS)
def test_readme_shows_compose_commands(readme: str, command: str) -> None:
    assert command in readme
