"""Reading parley's metrics in tests: a value from a ``Metrics``'s registry, or from ``/metrics``'s text."""

from __future__ import annotations

from collections.abc import Iterable

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.metrics import Metrics


def value(metrics: Metrics, name: str, **labels: str) -> float:
    """A sample's value (0 when it was never set): ``name`` as scraped, e.g. ``parley_messages_total``."""
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def parley_samples(text: str) -> list[Sample]:
    """Every sample of a ``parley_*`` family in a ``/metrics`` text."""
    return [
        sample
        for family in text_string_to_metric_families(text)
        if family.name.startswith("parley_")
        for sample in family.samples
    ]


def scraped(samples: list[Sample], name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels`` (0 when there is none)."""
    found = [sample.value for sample in samples if sample.name == name and sample.labels == labels]
    assert len(found) <= 1, f"{name}{labels} appears twice"
    return found[0] if found else 0.0


CALLS = "parley_platform_calls_total"


def calls_of(samples: Iterable[Sample]) -> dict[tuple[str, str, str], float]:
    """The platform calls' samples among ``samples``, by (platform, method, status)."""
    return {
        (sample.labels["platform"], sample.labels["method"], sample.labels["status"]): sample.value
        for sample in samples
        if sample.name == CALLS
    }


def registry_calls(metrics: Metrics) -> dict[tuple[str, str, str], float]:
    """The platform calls counted in a ``Metrics``, by (platform, method, status)."""
    return calls_of(sample for family in metrics.registry.collect() for sample in family.samples)


async def scraped_calls(base: str) -> dict[tuple[str, str, str], float]:
    """The platform calls' samples a running parley's /metrics shows, by (platform, method, status)."""
    async with aiohttp.ClientSession() as session, session.get(base + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return calls_of(sample for family in text_string_to_metric_families(text) for sample in family.samples)
