"""pytest-carbon: per-test energy and CO2e metering for pytest, with a CI emissions gate."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "meter"]


def __getattr__(name: str) -> object:
    # loaded on first use: the plugin's start-up imports this package and needs none of it.
    # ``meter`` is the module pytest_carbon.meter, which is callable: pytest_carbon.meter(region="FR")
    # gives the context manager and decorator pytest_carbon.meter.meter (see pytest_carbon.block).
    if name == "meter":
        import importlib

        return importlib.import_module("pytest_carbon.meter")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
