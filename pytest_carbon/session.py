"""The per-session object: it owns the meter, follows every test, and reports at the end.

Registered as a plugin by ``plugin.pytest_configure`` only when ``--carbon`` is on, so a run
without it pays nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Mapping
from time import perf_counter_ns as _perf_ns
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_carbon.errors import ConfigError
from pytest_carbon.meter import AllFigures, Meter, TestFigures, Totals
from pytest_carbon.probes.base import Probe

if TYPE_CHECKING:
    from pytest_carbon.gate import CarbonGate
    from pytest_carbon.pipeline import EndOfRun
    from pytest_carbon.report import RunFacts, WorkerFacts
    from pytest_carbon.settings import Settings

SESSION_KEY = pytest.StashKey["CarbonSession"]()
INDEX_KEY = pytest.StashKey[int]()
#: the JUnit properties last added to an item, and the test's energy and CO2e at that point
JUNIT_KEY = pytest.StashKey[tuple[tuple[tuple[str, str], ...], float, float]]()
#: what ends a session from inside a phase (Ctrl-C, pytest.exit): the phase never reports
_STOPS = (KeyboardInterrupt, pytest.exit.Exception)

#: the part a pytest process plays: a run without xdist, the xdist controller, an xdist worker
Role = Literal["serial", "controller", "worker"]


def xdist_role(config: pytest.Config) -> Role:
    """The part this process plays, decided once at configure time (xdist's options are final then).

    A worker is told by the input its controller gave it; the controller by the rule pytest-xdist
    itself follows to make its distributed session (a distribution mode, test environments, not
    ``--collect-only``); anything else, xdist absent or off (``-n 0``, ``-p no:xdist``), is serial.
    """
    if hasattr(config, "workerinput"):
        return "worker"
    distributed = config.getoption("dist", "no") not in (None, "no") and bool(config.getoption("tx", None))
    if distributed and not config.getoption("collectonly", False):
        return "controller"
    return "serial"


def needs_gate(settings: Settings) -> bool:
    """True when an option needs the gate from the start: a budget, or the baseline (checked at start-up)."""
    return any(value is not None for value in (settings.budget, settings.test_budget, settings.compare))


#: keys of a worker's confirmation summary that the controller works out again rather than adds up
_WORKED_OUT = frozenset({"controls", "repeat_ratio", "comparable", "comparable_at"})


class TestRecords:
    """What the plugin knows of its tests besides their energy, a list a field, a test an index.

    Kept by column, not as an object a test: the lists hold strings and numbers that exist
    anyway, so a large session gives the garbage collector nothing more to scan on every full
    collection (one object a test was about 3 % more of pytest's own objects).
    """

    __test__ = False  # not a test class, for pytest's collection
    __slots__ = ("attempts", "blocks", "failures", "files", "lines", "nodeids", "outcomes", "subtests", "workers")

    def __init__(self) -> None:
        self.nodeids: list[str] = []
        self.files: list[str] = []
        self.lines: list[int | None] = []
        self.workers: list[str | None] = []
        self.outcomes: list[str] = []
        #: test index -> [subtests reported, subtests failed], for the tests that had subtests
        self.subtests: dict[int, list[int]] = {}
        #: test index -> how many times it ran, for the tests that were rerun (pytest-rerunfailures)
        self.attempts: dict[int, int] = {}
        #: test index -> what pytest said of its first failing phase (``failure_detail``), for the failing tests
        self.failures: dict[int, dict[str, str]] = {}
        #: test index -> the blocks its code metered with the ``carbon`` fixture
        self.blocks: dict[int, list[dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self.nodeids)

    def add(self, nodeid: str, file: str, line: int | None, worker: str | None = None) -> int:
        """Record a test (outcome "passed" until a report says otherwise); return its index."""
        index = len(self.nodeids)
        self.nodeids.append(nodeid)
        self.files.append(file)
        self.lines.append(line)
        self.workers.append(worker)
        self.outcomes.append("passed")
        return index


def _outcome_of(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return "xfailed"
        if report.passed:
            return "xpassed"
    if report.when == "call":
        return report.outcome
    if report.failed:
        return "error"
    return "skipped" if report.skipped else "passed"


#: the most characters of a traceback kept in the report (a test's own output can be huge)
FAILURE_TEXT_MAX = 65_536


def failure_detail(report: pytest.TestReport) -> dict[str, str]:
    """The message and the traceback text of a failing phase, as pytest's own ``--junitxml`` writes them.

    ``message``: the crash line (``assert 1 == 2``, ``ValueError: bad``), prefixed like pytest's with
    ``failed on setup with "..."`` for an error outside the call; ``text``: the whole traceback as
    pytest prints it (cut at ``FAILURE_TEXT_MAX`` characters, the cut said); ``type``: the exception's
    class where the crash line names it; ``when``: the phase.
    """
    longrepr = report.longrepr
    reprcrash = getattr(longrepr, "reprcrash", None)
    if reprcrash is not None:
        message = str(reprcrash.message)
    elif isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip's (path, line, reason)
        message = str(longrepr[2])
    else:
        message = str(longrepr or "")
    head = message.split(":", 1)[0].strip()
    kind = head.rsplit(".", 1)[-1] if ":" in message and head.replace(".", "").replace("_", "").isalnum() else ""
    when = str(report.when)
    if when == "call" and hasattr(report, "wasxfail"):
        message = message or "[XPASS(strict)] " + str(report.wasxfail)
    elif when != "call":
        message = f'failed on {when} with "{message}"'
    try:
        text = report.longreprtext
    except Exception:  # a report object from another plugin: its text is a courtesy
        text = str(longrepr or "")
    if len(text) > FAILURE_TEXT_MAX:
        text = text[:FAILURE_TEXT_MAX] + f"\n... ({len(text) - FAILURE_TEXT_MAX} more characters left out)"
    return {"when": when, "message": message, "type": kind or ("error" if when != "call" else "failure"), "text": text}


class CarbonSession:
    """Follows the tests of one pytest process and reports their energy."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.tests = TestRecords()
        self.meter: Meter | None = None
        self.problems: list[str] = []
        self.probe_descriptions: list[dict[str, Any]] = []
        #: failed probe's name -> the probe that took over its components
        self.replacements: dict[str, str] = {}
        self.region: Any = None
        self._factor: float | None = None
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.figures = AllFigures(0)
        self._junit = bool(getattr(config.option, "xmlpath", None))
        #: a test's index by its node id (on the xdist controller, in ``_worker_keys`` by worker)
        self._keys: dict[str, int] = {}
        self._worker_keys: dict[str | None, dict[str, int]] = {}
        self._files: dict[str, str] = {}
        #: the item whose phases run now, and its index
        self._current: tuple[pytest.Item, int] | None = None
        #: "serial", "worker" (an xdist worker) or "controller" (the xdist controller): decided here, once
        self.role: Role = xdist_role(config)
        #: on a worker, what its controller sent it (``workerinput``); empty elsewhere
        self.workerinput: dict[str, Any] = getattr(config, "workerinput", {}) if self.role == "worker" else {}
        self.worker_id: str | None = os.environ.get("PYTEST_XDIST_WORKER") if self.role == "worker" else None
        #: on the controller: each worker process's timeline (``xdist.WorkerTimeline``), by its node
        self.timelines: dict[Any, Any] = {}
        #: on the controller: by xdist node, its worker's tests by node id and its timeline
        self._nodes: dict[Any, tuple[dict[str, int], Any]] = {}
        #: on the controller: the tests that have no figures (their worker died before sending them)
        self.no_figures: set[int] = set()
        #: on the controller: the totals of workers that died, from their timeline up to its last sample
        self.partial_totals: list[Totals] = []
        self._xdist_worker: Any = None
        self.worker_outputs: dict[str, dict[str, Any]] = {}
        self.dead_workers: dict[str, str] = {}
        #: worker id -> the tests that were running when it died (xdist reports them failed)
        self.lost_tests: dict[str, list[str]] = {}
        # a passed set-up leaves the test unfinished on the controller until its call reports
        # (--setup-only and --setup-plan have no call)
        self._unfinished = (
            "passed" if config.getoption("setuponly", False) or config.getoption("setupplan", False) else "interrupted"
        )
        self.perf_started = time.perf_counter()
        #: CPU seconds of each calibration (``calibrate.py``), timed between tests
        self.calibrations: list[float] = []
        self._calibrate_at = 0  # the perf_counter_ns at which the next calibration is due
        #: signature of the collected tests (sorted node ids), for comparable baselines
        self.selection: str | None = None
        self.workers = 0
        #: confirmations (``confirm.py``): node id -> repeated measurements; what they cost; notes
        self.confirmations: dict[str, dict[str, Any]] = {}
        self.confirmation_summary: dict[str, Any] = {}
        self.confirmation_notes: list[str] = []
        self._bucket: int | None = None
        #: True while a confirmation repeat runs (budgets are not checked on a repeat)
        self.confirming = False
        #: budgets and the baseline comparison (``gate.CarbonGate``), made only where they can apply
        self.gate: CarbonGate | None = None
        #: the end-of-run pipeline (``pipeline.EndOfRun``): on the process that reports, not on a worker
        self.end: EndOfRun | None = None

    def take_role(self) -> None:
        """Register what this process's role needs; check at once what the options ask for.

        Called once, at configure time, after the session is registered as a plugin: a worker
        gets its sender of timelines, the controller its collector of what the workers send, and
        the process that reports (not a worker) its end-of-run pipeline.
        """
        plugins = self.config.pluginmanager
        if self.role == "worker":
            from pytest_carbon.xdist import XdistWorker

            self._xdist_worker = XdistWorker(self)
            plugins.register(self._xdist_worker, "carbon-xdist-worker")
        elif self.role == "controller":
            from pytest_carbon.xdist import XdistController

            plugins.register(XdistController(self), "carbon-xdist-controller")
        if needs_gate(self.settings):
            self.make_gate()  # a baseline that cannot be read is refused now, before the first test
        if self.role != "worker":
            from pytest_carbon.pipeline import EndOfRun

            self.end = EndOfRun(self)  # a history that cannot be kept is refused now too

    def make_gate(self) -> CarbonGate:
        """The gate, made on first use (a plain metered run never imports it)."""
        if self.gate is None:
            from pytest_carbon.gate import CarbonGate

            self.gate = CarbonGate(self.config, self)
        return self.gate

    # ------------------------------------------------------------------ start

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from pytest_carbon.runinfo import resolve_region, select

        self.started_at = time.time()
        self.perf_started = time.perf_counter()
        try:
            self.region = resolve_region(self.settings, self.workerinput.get("carbon_region"))
        except ConfigError as err:
            raise pytest.UsageError(str(err)) from None
        selection = select(self.config, self.settings)
        self.problems += selection.problems
        self.probe_descriptions = [self._describe(p) for p in selection.probes]
        processes = int(self.workerinput.get("workercount", 1) or 1)
        self.meter = Meter(
            selection.probes,
            period_s=self.settings.period,
            scope=self.settings.scope,
            processes=processes,
            on_probe_error=self._replace_failed_probe,
        )
        self.meter.start()

    def _replace_failed_probe(self, probe: Probe, err: Exception) -> list[Probe]:
        """Estimate with the power model what a failed counter measured, from now on."""
        assert self.meter is not None
        covered = {c for p in self.meter.probes for c in p.components}
        lost = tuple(c for c in probe.components if c in ("cpu", "ram") and c not in covered)
        if not lost or self.settings.probe == "none":
            return []
        try:
            from pytest_carbon.probes.model import ModelProbe

            replacement = ModelProbe(components=lost)
            replacement.start()
        except Exception:  # no model either: the figures stay missing, and the report says so
            return []
        self.replacements[probe.name] = replacement.name
        self.probe_descriptions.append(self._describe(replacement))
        return [replacement]

    @staticmethod
    def _describe(probe: Probe) -> dict[str, Any]:
        try:
            desc = dict(probe.describe())
        except Exception as err:  # a description must never break the run
            desc = {"name": probe.name, "notes": [f"describe() failed: {err}"]}
        desc.setdefault("name", probe.name)
        desc.setdefault("components", list(probe.components))
        desc.setdefault("measured", probe.measured)
        desc.setdefault("inputs", {})
        desc.setdefault("notes", [])
        desc.setdefault("error", None)
        return desc

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.probe_descriptions:
            parts = [
                f"{d['name']} ({', '.join(d['components'])}; {'measured' if d['measured'] else 'estimated'})"
                for d in self.probe_descriptions
            ]
            lines.append("carbon: probes " + ", ".join(parts))
        else:
            lines.append("carbon: no energy probe: energy figures will be 0")
        if self.region is not None:
            from pytest_carbon.reports import region_text

            lines.append("carbon: region " + region_text(self.region.to_dict()))
        lines += [f"carbon: {p}" for p in self.problems]
        return lines

    # ------------------------------------------------------------------ per test
    # The three phase wrappers are the innermost ones (trylast): the window holds the test's
    # own fixtures and body, not the bookkeeping of other plugins' wrappers (logging, capture).

    def _new_record(self, nodeid: str, location: tuple[str, int | None, str], worker: str | None) -> int:
        path, line, _ = location
        if self.role == "controller":
            # each report brings its own copy of the file's name: keep one a file, as a serial run does
            path = self._files.setdefault(path, path)
        index = self.tests.add(nodeid, path, None if line is None else line + 1, worker)
        self._keys_of(worker)[nodeid] = index
        return index

    def _keys_of(self, worker: str | None) -> dict[str, int]:
        """Tests' indices by node id: the session's; on the xdist controller, one worker's."""
        if self.role != "controller":
            return self._keys
        keys = self._worker_keys.get(worker)
        if keys is None:
            keys = self._worker_keys[worker] = {}
        return keys

    def _index(self, item: pytest.Item) -> int:
        current = self._current
        if current is not None and current[0] is item:
            return current[1]
        index = item.stash.get(INDEX_KEY, None)
        if index is None:
            index = self._new_record(item.nodeid, item.location, self.worker_id)
            item.stash[INDEX_KEY] = index
        self._current = (item, index)
        return index

    # Each wrapper is written out (no shared generator): they run three times a test. The
    # children's CPU time is read at the end of each test's call and at its end (and at the start
    # of the first test): children are waited for by the tests' own code, and what the set-up of a
    # test waited for is charged to its call.

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        __tracebackhide__ = True  # the test's own errors pass through: no frame of the plugin in them
        index = self._index(item)
        meter = self.meter
        assert meter is not None
        if _perf_ns() >= self._calibrate_at:
            self.calibrate()
        meter.begin_phase(index == 0)
        try:
            return (yield)
        except _STOPS:
            self.tests.outcomes[index] = "interrupted"
            raise
        finally:
            meter.end_phase(index, False)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        __tracebackhide__ = True
        index = self._index(item)
        meter = self.meter
        assert meter is not None
        meter.begin_phase(False)
        try:
            return (yield)
        except _STOPS:  # no call report follows: pytest counts the test neither passed nor failed
            self.tests.outcomes[index] = "interrupted"
            raise
        finally:
            meter.end_phase(index, True)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        __tracebackhide__ = True
        index = self._index(item)
        meter = self.meter
        assert meter is not None
        meter.begin_phase(False)
        try:
            return (yield)
        finally:
            meter.end_phase(index, True)
            if self._junit:  # the one consumer of a test's figures at its end (budgets read theirs after the call)
                self._junit_properties(item, self.figures_now(item))

    @staticmethod
    def _junit_properties(item: pytest.Item, fig: Mapping[str, Any]) -> None:
        """Give pytest's --junitxml this attempt's figures: a rerun replaces the earlier attempt's."""
        energy_j, co2_g = fig["energy_j"], fig["co2_g"]
        earlier = item.stash.get(JUNIT_KEY, None)
        attempt_j, attempt_g = energy_j, co2_g
        if earlier is not None:  # a rerun (the test's figures add up its attempts)
            shown, before_j, before_g = earlier
            item.user_properties[:] = [p for p in item.user_properties if all(p is not s for s in shown)]
            attempt_j, attempt_g = max(energy_j - before_j, 0.0), max(co2_g - before_g, 0.0)
        shown = (("energy_j", f"{attempt_j:.6g}"), ("co2_g", f"{attempt_g:.6g}"))
        item.user_properties.extend(shown)
        item.stash[JUNIT_KEY] = (shown, energy_j, co2_g)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.role == "controller":
            self._controller_report(report)
            return
        if (
            report.passed
            and type(report) is pytest.TestReport
            and (report.when != "call" or not hasattr(report, "wasxfail"))
        ):
            return  # a passed phase (not a subtest, not an xpass) changes nothing: the common case, kept cheap
        self._report(report)

    def _controller_report(self, report: pytest.TestReport) -> None:
        """On the xdist controller: a worker's report. Passed phases, three a test, take a short path."""
        attrs = report.__dict__
        if report.passed and type(report) is pytest.TestReport and "wasxfail" not in attrs:
            node = attrs.get("node")
            known = self._nodes.get(node)
            if known is None:
                known = self._nodes[node] = (self._keys_of(_worker_of(node, self.worker_id)), self.timeline_of(node))
            keys, timeline = known
            when = attrs.get("when")
            if when == "teardown":  # it may carry a piece of its worker's timeline, and the test's blocks
                piece = attrs.get("carbon_timeline")
                if piece is not None:
                    timeline.add(piece, self.settings.scope)
                blocks = attrs.get("carbon_blocks")
                if blocks:
                    self._received_blocks(report, blocks)
                return
            if when == "setup":
                nodeid = report.nodeid
                index = keys.get(nodeid)
                if index is None:
                    index = self._new_record(nodeid, report.location, _worker_of(node, self.worker_id))
                    timeline.indices.append(index)
                # the test stays unfinished until its call reports
                self.tests.outcomes[index] = self._unfinished
                return
            if when == "call":
                nodeid = report.nodeid
                index = keys.get(nodeid)
                if index is not None:
                    budget = attrs.get("carbon_budget")
                    if budget is not None:
                        self._budget_reported(nodeid, budget)
                    outcomes = self.tests.outcomes
                    if outcomes[index] != "failed":  # a failed subtest keeps its test failed
                        outcomes[index] = "passed"
                    return
        self._report(report)
        if report.when == "call":
            budget = attrs.get("carbon_budget")
            if budget is not None:
                self._budget_reported(report.nodeid, budget)

    def _budget_reported(self, nodeid: str, data: Any) -> None:
        """On the controller: hand the gate the budget a worker's call report carries (the first one makes the gate)."""
        self.make_gate().budget_reported(nodeid, data)

    def _report(self, report: pytest.TestReport) -> None:
        """A report that may change a test's outcome (any phase that did not simply pass)."""
        node = getattr(report, "node", None)
        worker = _worker_of(node, self.worker_id)
        controller = self.role == "controller"
        index = self._keys_of(worker).get(report.nodeid)
        if index is None:
            if not controller:
                return
            index = self._new_record(report.nodeid, report.location, worker)
            self.timeline_of(node).indices.append(index)
        if controller:
            piece = getattr(report, "carbon_timeline", None)
            if piece is not None:
                self.timeline_of(node).add(piece, self.settings.scope)
        outcomes = self.tests.outcomes
        if str(report.outcome) == "rerun":  # pytest-rerunfailures runs the test again: the last attempt decides
            attempts = self.tests.attempts
            attempts[index] = attempts.get(index, 1) + 1
            outcomes[index] = "passed"
            self.tests.failures.pop(index, None)
            return
        current = outcomes[index]
        if report.failed and index not in self.tests.failures:
            self.tests.failures[index] = failure_detail(report)
        if type(report).__name__ == "SubtestReport":
            counts = self.tests.subtests.setdefault(index, [0, 0])
            counts[0] += 1
            if report.failed:
                counts[1] += 1
                if current in ("passed", "xpassed", "interrupted"):  # interrupted: call not reported yet
                    outcomes[index] = "failed"
            return
        outcome = _outcome_of(report)
        if report.when == "setup":
            outcomes[index] = self._unfinished if controller and outcome == "passed" else outcome
        elif report.when == "call":
            if not (current == "failed" and outcome == "passed"):
                outcomes[index] = outcome
        elif str(report.when) not in ("setup", "call", "teardown"):
            # xdist reports a crashed worker's unfinished test with when="???"
            outcomes[index] = "failed"
            if worker is not None:
                self.lost_tests.setdefault(worker, []).append(report.nodeid)
        elif outcome == "error" and current in ("passed", "xpassed", "xfailed"):
            outcomes[index] = "error"

    def timeline_of(self, node: Any) -> Any:
        """The timeline of one worker process (its xdist node), made on first use."""
        timeline = self.timelines.get(node)
        if timeline is None:
            from pytest_carbon.xdist import WorkerTimeline

            timeline = self.timelines[node] = WorkerTimeline(str(getattr(getattr(node, "gateway", None), "id", node)))
        return timeline

    def _attribute_workers(self) -> None:
        """Controller: each worker's figures from its timeline, into the per-test columns."""
        have = bytearray(len(self.tests))
        for timeline in self.timelines.values():
            totals = timeline.attribute(self.figures, have)
            if totals is not None and not timeline.complete:
                self.partial_totals.append(totals)
        self.no_figures = {i for i, got in enumerate(have) if not got}

    # ------------------------------------------------------------------ calibration, confirmations

    def calibrate(self) -> None:
        """Time the calibration workload once (between tests, outside their windows)."""
        from pytest_carbon.calibrate import INTERVAL_S, measure

        self.calibrations.append(measure())
        self._calibrate_at = _perf_ns() + int(INTERVAL_S * 1e9)

    def reserve_confirmation_bucket(self) -> int:
        """The index the confirmations' phases are charged to: one past the last test."""
        if self._bucket is None:
            self._bucket = len(self.tests)
        return self._bucket

    def charge_to(self, item: pytest.Item | None, index: int) -> None:
        """Charge the phases of ``item`` to ``index`` until called with None (the confirmations)."""
        self._current = (item, index) if item is not None else None
        self.confirming = item is not None

    def co2_factor(self) -> float:
        """Grams of CO2e per joule for the session's region (intensity x PUE)."""
        return self._co2_factor()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.gate is None and self.role != "controller":  # a controller collects no test
            from pytest_carbon.marks import any_marked

            if any_marked(session.items, "carbon_budget"):
                self.make_gate()
        if self.gate is not None:  # before the selection, as when the gate was a plugin of its own
            self.gate.collection_finished(session)
        if self.role != "worker":
            from pytest_carbon.runinfo import selection_signature

            self.selection = selection_signature(item.nodeid for item in session.items)

    def _gate_facts(self, report: dict[str, Any]) -> None:
        """What the gate needs to compare like with like: calibration, selection, workers, repeats."""
        from pytest_carbon.calibrate import summarise

        calibration: dict[str, Any] = dict(summarise(self.calibrations))
        if self.role == "controller":
            workers = {}
            ratios: dict[str, list[float]] = {}  # the controls' ratios by module, all workers'
            threshold = 0.0
            for worker, out in sorted(self.worker_outputs.items()):
                own = summarise(out.get("calibrations") or [])
                if own["samples"]:
                    workers[worker] = own["cpu_s"]
                for nodeid, values in (out.get("confirmations") or {}).items():
                    self.confirmations[f"{worker}\0{nodeid}"] = values
                for key, value in (out.get("confirmation_summary") or {}).items():
                    if key in _WORKED_OUT:  # a ratio or a verdict: worked out again from the modules' ratios
                        if key == "comparable_at" and isinstance(value, (int, float)) and value > 0:
                            threshold = 1 / value - 1
                    elif isinstance(value, (int, float)):
                        self.confirmation_summary[key] = self.confirmation_summary.get(key, 0) + value
                    elif isinstance(value, list):  # each worker's repeats, in its order
                        self.confirmation_summary.setdefault(key, []).extend(value)
                    elif key == "modules" and isinstance(value, dict):
                        for module, values in value.items():
                            ratios.setdefault(module, []).extend(values)
                self.confirmation_notes += list(out.get("confirmation_notes") or [])
            if ratios:
                from pytest_carbon.compare import controls_by_module

                self.confirmation_summary.update(controls_by_module(ratios, threshold))
            if workers:
                calibration["workers"] = workers
                calibration["cpu_s"] = sorted(workers.values())[len(workers) // 2]
        report["calibration"] = calibration
        report["run"]["selection"] = self.selection
        report["run"]["workers"] = self.workers
        if self.confirmations:
            controller = self.role == "controller"
            for entry in report["tests"]:
                key = f"{entry.get('worker')}\0{entry['nodeid']}" if controller else entry["nodeid"]
                values = self.confirmations.get(key)
                if values is not None:
                    entry["confirmations"] = values
        if self.confirmation_summary:
            report["session"]["confirmations"] = dict(self.confirmation_summary)
        if self.confirmation_notes:
            report.setdefault("warnings", []).extend(self.confirmation_notes)

    def _received_blocks(self, report: pytest.TestReport, blocks: Any) -> None:
        """On the controller: the blocks a worker's test metered with the ``carbon`` fixture."""
        node = getattr(report, "node", None)
        worker = _worker_of(node, self.worker_id)
        index = self._keys_of(worker).get(report.nodeid)
        if index is not None and isinstance(blocks, list):
            self.tests.blocks[index] = blocks

    def figures_now(self, item: pytest.Item) -> dict[str, Any]:
        """The test's figures so far (closes the current interval): for budgets and JUnit."""
        assert self.meter is not None
        index = self._index(item)
        fig = self.meter.figures_for(index)
        figures = self._test_entry_figures(fig)
        if index in self.tests.blocks:  # a worker sends its blocks with the test's figures
            figures["blocks"] = self.tests.blocks[index]
        return figures

    def _test_entry_figures(self, fig: TestFigures) -> dict[str, Any]:
        factor = self._co2_factor()
        return {
            "duration_s": fig.duration_s,
            "cpu_time_s": fig.cpu_time_s,
            "energy_j": fig.energy_j,
            "dynamic_energy_j": fig.dynamic_energy_j,
            "co2_g": fig.energy_j * factor,
            "components_j": dict(fig.components_j),
        }

    def _co2_factor(self) -> float:
        """Grams of CO2e per joule for the session's region (intensity x PUE)."""
        if self._factor is None:
            from pytest_carbon.units import co2_g_per_j

            self._factor = co2_g_per_j(self.region.to_dict() if self.region is not None else {})
        return self._factor

    # ------------------------------------------------------------------ end

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
        if self.meter is None:
            return
        from pytest_carbon.calibrate import MIN_SAMPLES

        while len(self.calibrations) < MIN_SAMPLES:
            self.calibrate()
        self.meter.stop()
        # descriptions again: probes learn during the session (wraps, dropped intervals, idle power)
        failed = {d["name"]: d for d in self.probe_descriptions if d["name"] in self.meter.failed_probes}
        self.probe_descriptions = [self._describe(p) for p in self.meter.probes] + list(failed.values())
        self.meter.close()
        self.finished_at = time.time()
        if self._bucket is None:
            self.figures, totals = self.meter.attribute(len(self.tests))
        else:
            self.figures, totals = self.meter.attribute(len(self.tests) + 1)
            spent = self.figures.pop()
            self.confirmation_summary["energy_j"] = spent.energy_j
        if self.role == "worker":
            self._send_to_controller(totals)
            return
        if self.role == "controller":
            self._attribute_workers()
        assert self.end is not None  # made at configure time on the process that reports
        self.end.finish(session, exitstatus, totals)

    def build(self, session: pytest.Session, exitstatus: int | pytest.ExitCode, totals: Totals) -> dict[str, Any]:
        """The report of this run, from the session's records (the pipeline's first step)."""
        from pytest_carbon.report import build_report  # not on a worker: the controller reports

        assert self.meter is not None
        interrupted = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)
        ran_all = len(self.tests) >= session.testscollected
        report = build_report(
            self._run_facts(
                complete=ran_all and not interrupted and not session.shouldstop and not self.dead_workers,
                exit_status=int(exitstatus),
            ),
            self.tests,
            self.figures,
            totals,
            region=self.region.to_dict() if self.region is not None else None,
            factor=self._co2_factor(),
            probes=self.probe_descriptions,
            failed_probes=dict(self.meter.failed_probes),
            replacements=self.replacements,
            workers=self._worker_facts(),
        )
        self.probe_descriptions = report["machine"]["probes"]  # with their errors and bands
        self.figures = AllFigures(0)  # the entries replace the columns: a large session is not held twice
        self._gate_facts(report)
        return report

    def _run_facts(self, *, complete: bool, exit_status: int) -> RunFacts:
        """What the report says of the run itself (``report.RunFacts``)."""
        import uuid
        from pathlib import Path

        from pytest_carbon.report import RunFacts
        from pytest_carbon.runinfo import ci_facts, git_facts, machine_facts, project_name

        root = Path(str(self.config.rootpath))
        return RunFacts(
            run_id=uuid.uuid4().hex,
            started_at=self.started_at,
            finished_at=self.finished_at,
            project=project_name(root, self.settings.project),
            git=git_facts(root, os.environ),
            ci=ci_facts(os.environ),
            machine=machine_facts([]),
            scope=self.settings.scope,
            complete=complete,
            exit_status=exit_status,
            advice_providers=self.settings.advice_providers,
        )

    def _worker_facts(self) -> WorkerFacts | None:
        """On the xdist controller, what the workers sent (``report.WorkerFacts``); None elsewhere."""
        if self.role != "controller":
            return None
        from pytest_carbon.report import WorkerFacts

        return WorkerFacts(
            outputs=self.worker_outputs,
            partial_totals=self.partial_totals,
            dead=self.dead_workers,
            lost_tests=self.lost_tests,
            no_figures=self.no_figures,
        )

    def _send_to_controller(self, totals: Any) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is None:
            return
        workeroutput["carbon"] = {
            "static_j": totals.static_j,
            "dynamic_j": totals.dynamic_j,
            "dynamic_components_j": totals.dynamic_components_j,
            "machine_energy_j": totals.machine_energy_j,
            "failed_probes": dict(self.meter.failed_probes) if self.meter else {},
            "tests": len(self.tests),
            "calibrations": list(self.calibrations),
            "confirmations": self.confirmations,
            "confirmation_summary": self.confirmation_summary,
            "confirmation_notes": self.confirmation_notes,
            # what the meter recorded since the last piece sent on a tear-down report
            "timeline": self._xdist_worker.piece() if self._xdist_worker is not None else None,
        }

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.end is not None:
            self.end.terminal(terminalreporter)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # Every output is written and the summary shown: let go of the report and the records, a
        # few objects a test, before pytest's last garbage collections have to walk through them.
        if self.end is not None:
            self.end.report = None
        self.tests = TestRecords()
        self._keys = {}
        self._worker_keys = {}
        self._files = {}
        self.timelines = {}
        self._nodes = {}


def _worker_of(node: Any, default: str | None) -> str | None:
    """The worker id of an xdist node (a report's ``node``), else ``default``."""
    return node.gateway.id if node is not None else default
