"""Percentiles and ratios for the report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def ratio(value: float | None, floor: float | None) -> float | None:
    """value / floor, or None when either is missing or the floor is zero."""
    if value is None or floor is None or floor == 0:
        return None
    return value / floor
