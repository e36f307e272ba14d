"""The benchmark's smoke run (``python -m bench --smoke``) works end to end. It proves the harness, not any speed:
nothing here looks at a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_run_measures_both_bots_on_both_platforms(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "targets (issue 11)" in done.stdout
    document = json.loads(out.read_text())
    results = document["results"]
    assert set(results) == {"slack", "discord"}
    for platform, phases in results.items():
        assert {"latency instant", "latency stream", "throughput 1 in flight"} <= set(phases), platform
        for phase, bots in phases.items():
            expected = {"parley"} if phase.startswith("history") else {"floor", "parley"}
            assert set(bots) == expected, (platform, phase)
            for figures in bots.values():
                assert figures["answered"] == figures["replies"] > 0, (platform, phase)
                assert figures["calls_per_reply"] >= 1, "every reply reached the platform"
    assert "scale 4" in results["slack"] and "history 10 turns" in results["slack"]
    slack_calls = results["slack"]["latency instant"]["floor"]["calls_by_method"]
    assert slack_calls == {"chat.postMessage": 1.0}, "the Slack floor makes one call per reply"
    assert any(
        route.endswith("/threads") for route in results["discord"]["latency instant"]["floor"]["calls_by_method"]
    )
    assert {item["target"].split(":")[0] for item in document["targets"]} == {"slack", "discord"}


def test_parley_env_reaches_the_sizes_and_a_bad_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import parse

    sizes, _ = parse(["--smoke", "--parley-env", "PARLEY_LOG_FORMAT=json", "--parley-env", "PARLEY_LOG_LEVEL=INFO"])
    assert sizes.parley_env["PARLEY_LOG_FORMAT"] == "json" and sizes.parley_env["PARLEY_LOG_LEVEL"] == "INFO"
    assert "PARLEY_SLACK__EDIT_INTERVAL" in sizes.parley_env, "the smoke run's own settings are kept"
    with pytest.raises(SystemExit):
        parse(["--parley-env", "PARLEY_LOG_FORMAT"])
    assert "NAME=VALUE" in capsys.readouterr().err
