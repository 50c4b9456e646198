"""Grid carbon intensity: shipped yearly tables, region resolution, cloud detection, live figures."""

from __future__ import annotations

from pytest_carbon.intensity.live import apply_live
from pytest_carbon.intensity.regions import Region, RegionError, greener_than, lookup, search, unknown_region
from pytest_carbon.intensity.resolve import resolve_region

__all__ = [
    "Region",
    "RegionError",
    "apply_live",
    "greener_than",
    "lookup",
    "resolve_region",
    "search",
    "unknown_region",
]
