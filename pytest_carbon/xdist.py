"""pytest-xdist support: workers send their raw timeline, the controller attributes it.

A worker meters its own tests as a serial run does and sends what it recorded, not figures: at
the first tear-down after each of its sampler's periodic samples, the phases and samples recorded
since the last piece ride on that test's tear-down report; the rest goes in ``workeroutput`` when
the worker finishes. The controller keeps each worker's timeline (the phases packed as the
worker's meter packs them) and attributes it at the end with the worker's own attribution, so the
figures are those a serial attribution of the same timeline gives.

A worker that dies loses the test it was running and the tests that ended after the last sample
it sent: at most the tests of its last sampler period (``carbon_period``), and the test that was
running when that period began if it ended later. Its own totals are then those of its timeline
up to that sample. The controller keeps the machine's static energy, counted once.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

import pytest

from pytest_carbon.meter import AllFigures, Timeline, Totals

if TYPE_CHECKING:
    from pytest_carbon.session import CarbonSession


class XdistWorker:
    """Sends the worker's timeline to the controller, one piece a sampler period, on tear-down reports."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session
        self._phases = 0  # phases sent so far
        self._samples = 0  # samples sent so far
        self._ticks = 0  # the sampler's tick count at the last piece

    def piece(self) -> dict[str, Any]:
        """What the meter recorded since the last piece, and the worker's test count now."""
        meter = self.session.meter
        assert meter is not None
        phases, samples, self._phases, self._samples = meter.export(self._phases, self._samples)
        return {
            "tests": len(self.session.tests),
            "phases": phases,
            "samples": samples,
            "processes": meter.processes,
        }

    @pytest.hookimpl(tryfirst=True)  # before xdist's own listener serialises the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        blocks = self.session.tests.blocks
        if blocks:  # the blocks a test metered with the carbon fixture travel with its last report
            index = self.session._keys_of(self.session.worker_id).get(report.nodeid)
            if index is not None and index in blocks:
                report.carbon_blocks = blocks[index]  # type: ignore[attr-defined]
        meter = self.session.meter
        if meter is None or meter.ticks == self._ticks:
            return
        self._ticks = meter.ticks
        # TestReport keeps unknown attributes and xdist serialises them with the report
        report.carbon_timeline = self.piece()  # type: ignore[attr-defined]


class WorkerTimeline:
    """On the controller: one worker process's timeline, and which of the controller's tests are its tests."""

    __slots__ = ("aligned", "broken", "complete", "indices", "timeline", "worker")

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.timeline: Timeline | None = None
        #: the controller's index of each of the worker's tests, in the order the worker recorded them
        self.indices = array("q")
        #: how many of the worker's first tests are known to be ``indices``' (the counts agreed)
        self.aligned = 0
        self.broken = False
        #: True once the worker's last piece arrived (it finished its session)
        self.complete = False

    def add(self, piece: Any, scope: str) -> None:
        """Append a piece the worker sent; check that both sides count the same tests."""
        if not isinstance(piece, dict):
            return
        try:
            tests = int(piece["tests"])
            if self.timeline is None:
                self.timeline = Timeline(scope=scope, processes=int(piece.get("processes") or 1))
            self.timeline.extend(piece["phases"], piece["samples"])
        except (KeyError, TypeError, ValueError):
            self.broken = True
            return
        if not self.broken:
            if tests == len(self.indices):
                self.aligned = tests
            else:  # the worker recorded a test the controller did not (or the reverse): stop matching
                self.broken = True

    def attribute(self, into: AllFigures, have: bytearray) -> Totals | None:
        """Charge the timeline; copy each test's figures into ``into`` at its controller index.

        Marks in ``have`` the tests that got figures. A worker that did not finish keeps only the
        tests whose phases all ended before the last sample it sent. Returns the worker's totals
        (None without a timeline).
        """
        timeline = self.timeline
        if timeline is None:
            return None
        last = timeline.last_wall_ns()
        unfinished = timeline.tests_after(last) if not self.complete and last is not None else set()
        n_local = max(timeline.highest_test() + 1, self.aligned)
        local, totals = timeline.attribute(n_local)
        indices = self.indices
        columns = [
            (into.duration_s, local.duration_s),
            (into.cpu_time_s, local.cpu_time_s),
            (into.energy_j, local.energy_j),
            (into.dynamic_energy_j, local.dynamic_energy_j),
        ]
        n = len(into)
        for comp, column in local.components_j.items():
            if comp not in into.components_j:
                into.components_j[comp] = [0.0] * n
            columns.append((into.components_j[comp], column))
        for i in range(min(self.aligned, len(indices))):
            if i in unfinished:
                continue
            g = indices[i]
            if 0 <= g < n:
                for target, source in columns:
                    target[g] = source[i]
                have[g] = 1
        return totals


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
        gate = self.session.gate  # made at configure time where a baseline is compared
        wire = gate.worker_input(count) if gate is not None else None
        if wire:
            # the workers screen their own tests against the baseline and confirm the suspects
            node.workerinput["carbon_gate"] = wire

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.session.selection is None:
            from pytest_carbon.runinfo import selection_signature

            self.session.selection = selection_signature(ids)

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        worker = str(node.gateway.id)
        output = getattr(node, "workeroutput", None) or {}
        carbon = output.get("carbon")
        timeline = self.session.timeline_of(node)
        if isinstance(carbon, dict):
            self.session.worker_outputs[worker] = carbon
            piece = carbon.pop("timeline", None)
            if piece is not None:
                timeline.add(piece, self.session.settings.scope)
                timeline.complete = True
        if error is not None:
            self.session.dead_workers[worker] = str(error).strip() or "crashed"
