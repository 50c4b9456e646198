"""The per-session object: it owns the meter, follows every test, and reports at the end.

Registered as a plugin by ``plugin.pytest_configure`` only when ``--carbon`` is on, so a run
without it pays nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Mapping
from typing import Any

import pytest

from pytest_carbon.config import ConfigError
from pytest_carbon.meter import AllFigures, Meter, TestFigures
from pytest_carbon.probes.base import Probe

SESSION_KEY = pytest.StashKey["CarbonSession"]()
INDEX_KEY = pytest.StashKey[int]()
#: the JUnit properties last added to an item, and the test's energy and CO2e at that point
JUNIT_KEY = pytest.StashKey[tuple[tuple[tuple[str, str], ...], float, float]]()
#: what ends a session from inside a phase (Ctrl-C, pytest.exit): the phase never reports
_STOPS = (KeyboardInterrupt, pytest.exit.Exception)


class TestRecords:
    """What the plugin knows of its tests besides their energy, a list a field, a test an index.

    Kept by column, not as an object a test: the lists hold strings and numbers that exist
    anyway, so a large session gives the garbage collector nothing more to scan on every full
    collection (one object a test was about 3 % more of pytest's own objects).
    """

    __test__ = False  # not a test class, for pytest's collection
    __slots__ = ("attempts", "files", "lines", "nodeids", "outcomes", "subtests", "workers")

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


class CarbonSession:
    """Follows the tests of one pytest process and reports their energy."""

    def __init__(self, config: pytest.Config, options: Mapping[str, Any], origins: Mapping[str, str]) -> None:
        self.config = config
        self.options = dict(options)
        self.origins = dict(origins)
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
        self.report: dict[str, Any] | None = None
        self.figures = AllFigures(0)
        self._junit = bool(getattr(config.option, "xmlpath", None))
        #: a test's index by its node id (by node id and worker on the xdist controller)
        self._keys: dict[Any, int] = {}
        #: the item whose phases run now, and its index
        self._current: tuple[pytest.Item, int] | None = None
        self._errors: list[str] = []
        #: "serial", "worker" (an xdist worker) or "controller" (the xdist controller)
        self.role = "worker" if hasattr(config, "workerinput") else "serial"
        self.worker_id: str | None = os.environ.get("PYTEST_XDIST_WORKER") if self.role == "worker" else None
        #: figures computed at each test's end: by this process (worker) or received (controller)
        self.received: dict[int, dict[str, Any]] = {}
        self.worker_outputs: dict[str, dict[str, Any]] = {}
        self.dead_workers: dict[str, str] = {}
        #: worker id -> the tests that were running when it died (xdist reports them failed)
        self.lost_tests: dict[str, list[str]] = {}
        # a passed set-up leaves the test unfinished on the controller until its call reports
        # (--setup-only and --setup-plan have no call)
        self._unfinished = (
            "passed" if config.getoption("setuponly", False) or config.getoption("setupplan", False) else "interrupted"
        )
        #: (test index, figures) of the test that just ended, for the xdist worker's report
        self.last_figures: tuple[int, dict[str, Any]] | None = None

    # ------------------------------------------------------------------ start

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from pytest_carbon.runinfo import resolve_region, select

        self.started_at = time.time()
        if self.role == "worker":
            from pytest_carbon.xdist import XdistWorker

            self.config.pluginmanager.register(XdistWorker(self), "carbon-xdist-worker")
        elif self.config.pluginmanager.has_plugin("dsession"):
            from pytest_carbon.xdist import XdistController

            self.role = "controller"
            self.config.pluginmanager.register(XdistController(self), "carbon-xdist-controller")
        try:
            self.region = resolve_region(
                self.options, self.origins, getattr(self.config, "workerinput", {}).get("carbon_region")
            )
        except ConfigError as err:
            raise pytest.UsageError(str(err)) from None
        selection = select(self.config, self.options)
        self.problems += selection.problems
        self.probe_descriptions = [self._describe(p) for p in selection.probes]
        processes = 1
        if self.role == "worker":
            processes = int(getattr(self.config, "workerinput", {}).get("workercount", 1) or 1)
        self.meter = Meter(
            selection.probes,
            period_s=self.options["carbon_period"],
            scope=self.options["carbon_scope"],
            processes=processes,
            on_probe_error=self._replace_failed_probe,
        )
        self.meter.start()

    def _replace_failed_probe(self, probe: Probe, err: Exception) -> list[Probe]:
        """Estimate with the power model what a failed counter measured, from now on."""
        assert self.meter is not None
        covered = {c for p in self.meter.probes for c in p.components}
        lost = tuple(c for c in probe.components if c in ("cpu", "ram") and c not in covered)
        if not lost or self.options["carbon_probe"] == "none":
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
            lines.append("carbon: region " + _region_line(self.region.to_dict()))
        lines += [f"carbon: {p}" for p in self.problems]
        return lines

    # ------------------------------------------------------------------ per test
    # The three phase wrappers are the innermost ones (trylast): the window holds the test's
    # own fixtures and body, not the bookkeeping of other plugins' wrappers (logging, capture).

    def _new_record(self, nodeid: str, location: tuple[str, int | None, str], worker: str | None) -> int:
        path, line, _ = location
        index = self.tests.add(nodeid, path, None if line is None else line + 1, worker)
        self._keys[self._key(nodeid, worker)] = index
        return index

    def _key(self, nodeid: str, worker: str | None) -> Any:
        """A test's key in ``_keys``: its node id; with the worker's id too on the xdist controller."""
        return (nodeid, worker) if self.role == "controller" else nodeid

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
            if self._junit or self.role == "worker":
                # a worker sends each test's figures with its last report, so that a worker
                # that dies later loses nothing it had finished
                fig = self.figures_now(item)
                self.last_figures = (index, fig)
                if self._junit:
                    self._junit_properties(item, fig)

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
        if (
            report.passed
            and self.role != "controller"
            and type(report) is pytest.TestReport
            and (report.when != "call" or not hasattr(report, "wasxfail"))
        ):
            return  # a passed phase (not a subtest, not an xpass) changes nothing: the common case, kept cheap
        node = getattr(report, "node", None)
        worker = node.gateway.id if node is not None else self.worker_id
        controller = self.role == "controller"
        index = self._keys.get(self._key(report.nodeid, worker))
        if index is None:
            if not controller:
                return
            index = self._new_record(report.nodeid, report.location, worker)
        received = getattr(report, "carbon", None)
        if controller and isinstance(received, dict):
            self.received[index] = received
        outcomes = self.tests.outcomes
        if str(report.outcome) == "rerun":  # pytest-rerunfailures runs the test again: the last attempt decides
            attempts = self.tests.attempts
            attempts[index] = attempts.get(index, 1) + 1
            outcomes[index] = "passed"
            return
        current = outcomes[index]
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

    def figures_now(self, item: pytest.Item) -> dict[str, Any]:
        """The test's figures so far (closes the current interval): for budgets and JUnit."""
        assert self.meter is not None
        fig = self.meter.figures_for(self._index(item))
        return self._test_entry_figures(fig)

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
        from pytest_carbon.report import build_report

        if self.meter is None:
            return
        self.meter.stop()
        # descriptions again: probes learn during the session (wraps, dropped intervals, idle power)
        failed = {d["name"]: d for d in self.probe_descriptions if d["name"] in self.meter.failed_probes}
        self.probe_descriptions = [self._describe(p) for p in self.meter.probes] + list(failed.values())
        self.meter.close()
        self.finished_at = time.time()
        self.figures, totals = self.meter.attribute(len(self.tests))
        if self.role == "worker":
            self._send_to_controller(totals)
            return
        interrupted = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)
        ran_all = len(self.tests) >= session.testscollected
        self.report = build_report(
            self,
            totals,
            complete=ran_all and not interrupted and not session.shouldstop and not self.dead_workers,
            exit_status=int(exitstatus),
        )
        self.config.hook.pytest_carbon_report(config=self.config, report=self.report)
        path = self.options.get("carbon_json")
        if path:
            from pytest_carbon.reports.json import write_json

            try:
                write_json(self.report, path)
            except OSError as err:
                self._errors.append(f"could not write the JSON report to {path}: {err}")

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
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from pytest_carbon.summary import summary_lines

        if self.report is None:
            return
        verbosity = self.config.get_verbosity()
        lines = summary_lines(self.report, verbosity=verbosity, top=self.options["carbon_top"])
        lines += [f"error: {e}" for e in self._errors]
        if verbosity < 0:
            for line in lines:
                terminalreporter.write_line(line)
            return
        terminalreporter.write_sep("=", "carbon")
        for line in lines:
            terminalreporter.write_line(line)
        path = self.options.get("carbon_json")
        if path and not self._errors:
            terminalreporter.write_line(f"JSON report: {path}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # Every output is written and the summary shown: let go of the report and the records, a
        # few objects a test, before pytest's last garbage collections have to walk through them.
        self.report = None
        self.tests = TestRecords()
        self._keys = {}
        self.received = {}


def _region_line(region: Mapping[str, Any]) -> str:
    if not region.get("known", True):
        return str(region.get("note") or "unknown")
    line = (
        f"{region.get('code')} {region.get('intensity_g_per_kwh')} g/kWh "
        f"({region.get('intensity_source')}, {region.get('year')}; chosen by {region.get('source')})"
    )
    return line + (f"; {region['note']}" if region.get("note") else "")
