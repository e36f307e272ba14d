"""The shape of the code: the core names no platform, adapters reach it through bot/api.py only, files stay small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import bot.api

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_WORDS = re.compile(r"slack|discord|mrkdwn|\bguilds?\b|\bbolt\b|app_mention", re.IGNORECASE)
USER_FACING = {
    # What users read, unchanged by the redesign: a bad channel's examples, and reply_mode's help line.
    ("bot/threads.py", '"for example slack:T0123/C0456, discord:111/222 or console:local/terminal"'),
    (
        "bot/settings.py",
        'description=\'Discord: "thread" (open a thread from the mention) '
        'or "reply" (answer in place, a reply chain)\',',
    ),
}
MAX_LINES = 400


def sources(folder: str) -> list[Path]:
    return sorted(path for path in (ROOT / folder).rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_the_core_names_no_platform() -> None:
    hits = []
    for path in sources("bot"):
        name = str(path.relative_to(ROOT))
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if PLATFORM_WORDS.search(line) and (name, line.strip()) not in USER_FACING:
                hits.append(f"{name}:{number}: {line.strip()}")
    assert hits == [], "bot/ is platform-neutral:\n" + "\n".join(hits)


def test_the_core_never_imports_an_adapter() -> None:
    for path in sources("bot"):
        assert not [m for m in imported_modules(path) if m.split(".")[0] == "adapters"], path


def test_adapters_reach_the_core_through_its_api_only() -> None:
    for path in sources("adapters"):
        reached = [m for m in imported_modules(path) if m.split(".")[0] == "bot"]
        assert set(reached) <= {"bot.api"}, f"{path.relative_to(ROOT)} imports {reached}"


def test_what_the_api_names_exists() -> None:
    for name in bot.api.__all__:
        assert hasattr(bot.api, name), name


@pytest.mark.parametrize("folder", ["bot", "adapters"])
def test_no_file_is_over_400_lines(folder: str) -> None:
    long = {str(p.relative_to(ROOT)): n for p in sources(folder) if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
