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
    """Inspect or extend the final report (a plain dict, the JSON's shape) before anything is written.

    Called once a run, on the process that reports (a single process, or the xdist controller;
    never on a worker), after the report is built and the budgets' verdicts and the baseline
    comparison are in it (``report["budget"]``, each test's ``budget``, ``report["comparison"]``),
    and before any artefact is written or the run stored.

    An implementation may change the report in place: add a line to ``report["missing"]`` or
    ``report["warnings"]``, add a key of its own (at the top, in ``report["run"]`` or in a test's
    entry), or change a fact or a figure. Every artefact (JSON, JUnit, Markdown, CSV, CSV of the
    tests, HTML, the GitHub job summary), the terminal summary and the run stored in the history
    are written from the report as the implementations leave it, each with what its format holds:
    a key of your own is in the JSON and the stored run; ``missing`` and ``warnings`` are also in
    the Markdown, the HTML page and the job summary (``missing`` in the terminal too); JUnit and
    CSV have fixed fields (the tests' figures, the host name, the project, the region...).

    The verdicts are given before the hook: changing a figure here changes neither them nor the
    run's exit status. Keep the keys the JSON schema requires, with their types: every renderer
    and the store rely on them.
    """
