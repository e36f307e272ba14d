"""How big each part of a run is: the full run's defaults, and the smoke run's."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sizes:
    conversations: int = 25
    """Latency: conversations of a mention and a follow-up in its thread (2 replies each), per model speed."""
    stream_seconds: float = 0.5
    """Latency: the streamed model's time from first chunk to last."""
    stream_in_flight: int = 4
    """Latency: conversations at once with the streamed model (the instant model's go one at a time)."""
    throughput_levels: tuple[int, ...] = (1, 10, 100)
    throughput_replies: tuple[int, ...] = (15, 60, 300)
    """Throughput: replies measured at each level (instant model, closed loop)."""
    scale: int = 2000
    """Scale: conversations streaming at once (Slack)."""
    scale_seconds: float = 5.0
    scale_limit: float = 240.0
    """Scale: seconds a reply may take before it counts as not answered."""
    history_lengths: tuple[int, ...] = (1, 100, 1000)
    """History: turns already in the thread (Slack, parley only: the floor keeps none)."""
    history_messages: int = 20
    """History: messages measured at each length."""
    platforms: tuple[str, ...] = ("slack", "discord")
    parley_env: dict[str, str] = field(default_factory=dict)
    """Extra environment for parley (the smoke run shortens the edit interval)."""
    reply_limit: float = 60.0
    """Seconds a reply may take before it counts as not answered (the scale run allows 10x)."""


SMOKE = Sizes(
    conversations=1,
    stream_seconds=0.1,
    stream_in_flight=1,
    throughput_levels=(1, 2),
    throughput_replies=(2, 2),
    scale=4,
    scale_seconds=0.2,
    scale_limit=20.0,
    history_lengths=(1, 10),
    history_messages=1,
    parley_env={"PARLEY_SLACK__EDIT_INTERVAL": "0.05", "PARLEY_DISCORD__EDIT_INTERVAL": "0.05"},
    reply_limit=20.0,
)
"""A few seconds: proves every part of the harness works; its figures mean nothing."""
