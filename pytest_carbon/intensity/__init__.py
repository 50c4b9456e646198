"""Grid carbon intensity: shipped yearly tables, region resolution, cloud detection, live figures.

The names below are loaded from their submodules on first use: a session with a given region
needs neither cloud detection nor the live services, and never imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {
    "Region": "regions",
    "RegionError": "regions",
    "apply_live": "live",
    "greener_than": "regions",
    "lookup": "regions",
    "resolve_region": "resolve",
    "search": "regions",
    "unknown_region": "regions",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
