"""Hooks that pytest-carbon adds to pytest; implement them in a conftest.py or a plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_carbon.probes.base import Probe


@pytest.hookspec(firstresult=True)
def pytest_carbon_probes(config: pytest.Config) -> list[Probe] | None:
    """Return the probes to meter with, instead of those the plugin would choose.

    The first implementation that returns a list wins; return None to let the plugin choose.
    Probes returned here are started by the plugin. Under pytest-xdist the hook runs in each
    worker, so a conftest.py that supplies probes reaches every worker.
    """


def pytest_carbon_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Inspect or extend the final report (a plain dict, the JSON's shape) before it is written."""
