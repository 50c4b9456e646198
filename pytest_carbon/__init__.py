"""pytest-carbon: per-test energy and CO2e metering for pytest, with a CI emissions gate."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
