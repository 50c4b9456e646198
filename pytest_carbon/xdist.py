"""pytest-xdist support on the controller; registered only when xdist runs the session.

Workers meter their own tests and send each test's figures on its last report (so a worker
that dies loses only its unfinished test); their own totals arrive in ``workeroutput`` when
they finish. The controller keeps the machine's static energy, counted once.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_carbon.session import CarbonSession


class XdistWorker:
    """Attaches each test's figures to its tear-down report, which xdist sends to the controller."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        from pytest_carbon.session import INDEX_KEY

        report = yield
        last = self.session.last_figures
        if call.when == "teardown" and last is not None:
            index, figures = last
            if index == item.stash.get(INDEX_KEY, None):
                # TestReport keeps unknown attributes and xdist serialises them with the report
                report.carbon = figures  # type: ignore[attr-defined]
            self.session.last_figures = None
        return report


class XdistController:
    """Hands the region to the workers; collects what each worker sends when it goes down."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        # one resolution (and at most one live call) per run: the workers take the controller's region
        if self.session.region is not None:
            node.workerinput["carbon_region"] = self.session.region.to_dict()
        count = int(node.workerinput.get("workercount") or 0)
        self.session.workers = max(self.session.workers, count)
        gate = self.session.config.pluginmanager.get_plugin("carbon-gate")
        wire = gate.worker_input(count) if gate is not None and hasattr(gate, "worker_input") else None
        if wire:
            # the workers screen their own tests against the baseline and confirm the suspects
            node.workerinput["carbon_gate"] = wire

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.session.selection is None:
            from pytest_carbon.session import selection_signature

            self.session.selection = selection_signature(ids)

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        worker = str(node.gateway.id)
        output = getattr(node, "workeroutput", None) or {}
        carbon = output.get("carbon")
        if isinstance(carbon, dict):
            self.session.worker_outputs[worker] = carbon
        if error is not None:
            self.session.dead_workers[worker] = str(error).strip() or "crashed"
