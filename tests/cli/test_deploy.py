"""deploy/: the Grafana dashboard and the Prometheus alerts name only metrics and labels parley exports.

Checked statically (no promtool or Grafana here): every PromQL expression is read for its metric names and
label names, and each must exist in ``bot.metrics.Metrics().registry`` (a counter ``parley_x`` is exported
as ``parley_x_total``; a histogram as ``_bucket``, ``_sum`` and ``_count``). Besides those, Prometheus's
own ``up`` and the labels every scrape adds (``job``, ``instance``) exist, and ``le`` on a bucket.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
ALERTS = DEPLOY / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus.yml"

TARGET_LABELS = {"job", "instance"}
"""Labels Prometheus adds to every series it scrapes."""
PROMETHEUS_SERIES: dict[str, set[str] | None] = {"up": set()}
"""Series Prometheus makes itself, one per target."""
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                "quantile", "limitk", "limit_ratio"}  # fmt: skip
"""Followed by ``by (...)`` as often as by ``(``: never metric names."""
KEYWORDS = GROUPING | AGGREGATIONS | {"bool", "and", "or", "unless", "offset", "atan2"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


class _Queue:
    """The queue's gauges as Redis would give them: one platform's depth and age, and the dead letters."""

    async def gauges(self) -> tuple[dict[str, tuple[int, float]], int]:
        return {"slack": (3, 12.5)}, 1


def _exported() -> dict[str, set[str] | None]:
    """Every series name the registry exports, with its label names (None: a labelled metric nothing moved
    in ``_exercised``, whose label names the registry only shows once a series exists)."""
    metrics = Metrics()
    metrics.message("slack", "answered")
    metrics.reply("discord", "openai", 2.0, 0.5)
    metrics.used("openai", 10, 20)
    metrics.backend_error("openai", "timeout")
    metrics.fallback("local")
    metrics.platform_call("slack", "chat.postMessage", 429)
    metrics.redis_error()
    metrics.desk_question()
    metrics.desk_handoff()
    metrics.desk_vote("up")
    asyncio.run(metrics.refresh(_Queue()))
    found: dict[str, set[str] | None] = dict(PROMETHEUS_SERIES)
    for family in metrics.registry.collect():
        if not family.samples:
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(family.type, ("",))
            found.update({family.name + suffix: None for suffix in suffixes})
        for sample in family.samples:
            found[sample.name] = set(sample.labels)
    return found


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str] | None]:
    return _exported()


@dataclass
class Expression:
    """What one PromQL expression names."""

    text: str
    metrics: set[str] = field(default_factory=set)
    matchers: list[tuple[str, str]] = field(default_factory=list)
    """(metric, label) of each ``metric{label=...}``."""
    grouping: set[str] = field(default_factory=set)
    """Labels of ``by (...)``, ``without (...)``, ``on (...)``..."""


TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\d+(?:\.\d+)?(?:e[+-]?\d+)?|[A-Za-z_:][\w:]*|=~|!~|!=|==|>=|<=|\S')


def parse(text: str) -> Expression:
    """The metric names and label names of a PromQL expression (Grafana's $variables inside strings and
    ranges are left alone)."""
    found = Expression(text)
    without_ranges = re.sub(r"\[[^\]]*\]", "", text)
    tokens = TOKEN.findall(without_ranges)
    i = 0
    previous_metric = ""
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in GROUPING and following == "(":
            close = tokens.index(")", i)
            found.grouping |= {label for label in tokens[i + 2 : close] if label != ","}
            i = close + 1
            continue
        if token == "{":
            close = tokens.index("}", i)
            inside = tokens[i + 1 : close]
            for j, label in enumerate(inside[:-1]):
                if inside[j + 1] in {"=", "!=", "=~", "!~"} and re.fullmatch(r"[A-Za-z_]\w*", label):
                    found.matchers.append((previous_metric, label))
            i = close + 1
            continue
        if re.fullmatch(r"[A-Za-z_:][\w:]*", token) and token not in KEYWORDS and following != "(":
            found.metrics.add(token)
            previous_metric = token
        i += 1
    return found


def _dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _dashboard_expressions() -> list[Expression]:
    dashboard = _dashboard()
    expressions = [parse(target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        found = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", str(query))
        if found:
            expressions.append(Expression(str(query), {found[1]}, [(found[1], found[2])]))
    return expressions


def _rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def _alert_expressions() -> list[Expression]:
    return [parse(rule["expr"]) for rule in _rules()]


SOURCES = {"dashboard": _dashboard_expressions, "alerts": _alert_expressions}


def _labels_of(metric: str, exported: dict[str, set[str] | None]) -> set[str]:
    labels = exported[metric]
    assert labels is not None, f"{metric}: add a call that moves it to _exported(), so its label names show"
    return labels | TARGET_LABELS | ({"le"} if metric.endswith("_bucket") else set())


@pytest.mark.parametrize("source", SOURCES)
def test_every_metric_named_exists(source: str, exported: dict[str, set[str] | None]) -> None:
    expressions = SOURCES[source]()
    assert expressions
    for expression in expressions:
        assert expression.metrics, f"no metric in {expression.text!r}"
        unknown = expression.metrics - set(exported)
        assert not unknown, f"{source}: {sorted(unknown)} not exported by parley: {expression.text}"


@pytest.mark.parametrize("source", SOURCES)
def test_every_label_named_exists(source: str, exported: dict[str, set[str] | None]) -> None:
    for expression in SOURCES[source]():
        for metric, label in expression.matchers:
            assert label in _labels_of(metric, exported), f"{source}: {metric} has no label {label}: {expression.text}"
        known = set().union(*(_labels_of(metric, exported) for metric in expression.metrics))
        unknown = expression.grouping - known
        assert not unknown, f"{source}: no metric here has the labels {sorted(unknown)}: {expression.text}"


def test_the_parser_finds_names_and_labels() -> None:
    """The reader these checks rest on: functions, keywords, numbers, strings and ranges are not metrics."""
    found = parse(
        'histogram_quantile(0.95, sum by (le, backend) (rate(parley_reply_seconds_bucket{job=~"$job"}'
        "[$__rate_interval]))) > 1e-3 and on (instance) up == 0"
    )
    assert found.metrics == {"parley_reply_seconds_bucket", "up"}
    assert found.matchers == [("parley_reply_seconds_bucket", "job")]
    assert found.grouping == {"le", "backend", "instance"}
    assert parse('sum(rate(x_total{a="b,c}",d!="e"}[5m])) by (f)').matchers == [("x_total", "a"), ("x_total", "d")]


def test_the_check_catches_a_wrong_name(exported: dict[str, set[str] | None]) -> None:
    assert "parley_messages_total" in exported and "parley_messages" not in exported
    assert "parley_reply_seconds_bucket" in exported and "parley_reply_seconds" not in exported
    assert exported["parley_messages_total"] == {"platform", "outcome"}
    assert "process_resident_memory_bytes" in exported, "the process collector's defaults"


# What the issue asks the dashboard and the alerts to show.

DASHBOARD_NEEDS = {
    "message rate by outcome": ("parley_messages_total", "outcome"),
    "reply latency": ("parley_reply_seconds_bucket", "le"),
    "first-token latency": ("parley_first_token_seconds_bucket", "le"),
    "tokens": ("parley_tokens_total", "kind"),
    "backend errors": ("parley_backend_errors_total", "kind"),
    "fallbacks": ("parley_fallbacks_total", "backend"),
    "platform calls": ("parley_platform_calls_total", "status"),
    "queue depth": ("parley_queue_depth", "platform"),
    "queue oldest": ("parley_queue_oldest_seconds", "platform"),
    "dead letters": ("parley_queue_dead_letters", None),
    "Redis errors": ("parley_redis_errors_total", None),
}


@pytest.mark.parametrize("what", DASHBOARD_NEEDS)
def test_dashboard_has_a_panel_for(what: str) -> None:
    metric, label = DASHBOARD_NEEDS[what]
    matching = [e for e in _dashboard_expressions() if metric in e.metrics]
    assert matching, f"no panel shows {metric}"
    if label is not None:
        assert any(label in e.grouping for e in matching), f"no panel shows {metric} by {label}"


def test_dashboard_shows_429s_and_error_rate() -> None:
    expressions = _dashboard_expressions()
    assert any(("parley_platform_calls_total", "status") in e.matchers and '"429"' in e.text for e in expressions)
    assert any('outcome="failed"' in e.text and " / " in e.text for e in expressions), "failed / answered+failed"


def test_dashboard_takes_quantiles_from_the_histograms() -> None:
    texts = [e.text for e in _dashboard_expressions()]
    for metric in ("parley_reply_seconds_bucket", "parley_first_token_seconds_bucket"):
        quantiles = {
            found
            for text in texts
            if metric in text
            for found in re.findall(r"histogram_quantile\((0\.\d+), sum by \([^)]*\ble\b", text)
        }
        assert {"0.5", "0.95", "0.99"} <= quantiles, f"{metric}: {quantiles}"


@pytest.mark.parametrize("source", SOURCES)
def test_queue_gauges_are_never_summed(source: str) -> None:
    """Every process reads the same queue from Redis: summing N processes' gauges would count it N times."""
    for expression in SOURCES[source]():
        if any(metric.startswith("parley_queue_") for metric in expression.metrics):
            assert not re.search(r"\bsum\b", expression.text), expression.text


def test_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    names = {variable["name"] for variable in dashboard["templating"]["list"]}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["targets"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, "the data source picked"
        for target in panel["targets"]:
            used = set(re.findall(r"\$(?!__)(\w+)", target["expr"]))
            assert used <= names, f"undefined dashboard variables {used - names} in {target['expr']}"
    assert next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")["query"] == "prometheus"


# The alert rules: Prometheus's rule file format (promtool is not available here).

ALERTS_NEED = {
    "error rate": lambda e: "parley_messages_total" in e.metrics and 'outcome="failed"' in e.text,
    "first-token latency": lambda e: (
        "histogram_quantile" in e.text and "parley_first_token_seconds_bucket" in e.metrics
    ),
    "queue age": lambda e: "parley_queue_oldest_seconds" in e.metrics,
    "dead letters": lambda e: "parley_queue_dead_letters" in e.metrics,
    "429 storms": lambda e: "parley_platform_calls_total" in e.metrics and 'status="429"' in e.text,
}


@pytest.mark.parametrize("what", ALERTS_NEED)
def test_an_alert_for(what: str) -> None:
    assert any(ALERTS_NEED[what](expression) for expression in _alert_expressions()), f"no alert on {what}"


def test_alerts_are_prometheus_rule_groups() -> None:
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    assert set(data) == {"groups"}
    groups = data["groups"]
    assert groups and len({group["name"] for group in groups}) == len(groups)
    for group in groups:
        assert set(group) <= {"name", "interval", "limit", "rules"}, set(group)
        assert group["rules"]
    alerts = [rule["alert"] for rule in _rules()]
    assert len(alerts) == len(set(alerts)), "alert names are unique"
    for rule in _rules():
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, set(rule)
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        if "for" in rule:
            assert DURATION.fullmatch(str(rule["for"])), f"{rule['alert']}: for {rule['for']}"
        assert rule["labels"]["severity"] in {"page", "warning"}
        assert {"summary", "description"} <= set(rule["annotations"])
        assert all(isinstance(value, str) for value in [*rule["labels"].values(), *rule["annotations"].values()])


def test_alert_annotations_name_labels_the_alert_has(exported: dict[str, set[str] | None]) -> None:
    """``{{ $labels.x }}`` is empty unless the expression's result keeps the label x."""
    for rule in _rules():
        expression = parse(rule["expr"])
        if expression.grouping:
            kept = expression.grouping
        else:
            kept = set().union(*(_labels_of(metric, exported) for metric in expression.metrics))
        text = " ".join(rule["annotations"].values())
        used = set(re.findall(r"\$labels\.(\w+)", text))
        assert used <= kept, f"{rule['alert']}: {sorted(used - kept)} not in its result"


# The scrape config.


def test_prometheus_scrapes_parley_and_every_worker() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["parley"]["static_configs"] == [{"targets": ["parley:3000"]}]
    workers = jobs["parley-worker"]["dns_sd_configs"]
    assert workers == [{"names": ["worker"], "type": "A", "port": 3000, "refresh_interval": "15s"}]
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in jobs.values())
    assert all(DURATION.fullmatch(str(value)) for value in config["global"].values())


def test_the_jobs_the_alerts_watch_are_scraped() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    scraped = {job["job_name"] for job in config["scrape_configs"]}
    for rule in _rules():
        for pattern in re.findall(r'job=~"([^"$]+)"', rule["expr"]):
            assert set(pattern.split("|")) <= scraped, rule["alert"]


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/parley.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounted = [v for v in compose["services"]["grafana"]["volumes"] if v.startswith("./deploy/grafana-dashboard.json:")]
    assert mounted and mounted[0].split(":")[1].rpartition("/")[0] == provider["providers"][0]["options"]["path"]
