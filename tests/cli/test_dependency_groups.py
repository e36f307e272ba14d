"""`uv run parley chat` installs no lint tools; `uv run pytest` (the README's test command) still works."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def default_groups() -> set[str]:
    groups = PYPROJECT["dependency-groups"]
    defaults = PYPROJECT.get("tool", {}).get("uv", {}).get("default-groups", ["dev"])
    return {package for group in defaults for package in names(groups.get(group, []))}


def test_the_tests_runner_is_installed_by_default() -> None:
    assert {"pytest", "pytest-asyncio", "pyyaml"} <= default_groups(), "uv run pytest must work on a fresh machine"


def test_the_lint_tools_are_not() -> None:
    assert not {"ruff", "mypy", "types-pyyaml"} & default_groups()
    every = {package for group in PYPROJECT["dependency-groups"].values() for package in names(group)}
    assert {"ruff", "mypy", "types-pyyaml"} <= every, "they are in a group of their own"


def test_ci_installs_every_group_before_linting() -> None:
    sync = CI.index("uv sync --frozen --all-groups")
    assert sync < CI.index("uv run ruff check .") < CI.index("\nuv run pytest\n")
