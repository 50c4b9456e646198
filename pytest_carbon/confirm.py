"""Confirm before failing: tests that look regressed, or over budget within their noise, run again.

After the main run (in the process that ran the tests: the serial process, or each xdist
worker for its own tests), each suspect is run again up to ``carbon_confirm`` times through
pytest's own protocol without logging: pytest's outcomes, counts and reports do not change, and
the repeats' energy is kept apart (``session.confirmations``), never added to the test's
figures. The time spent is bounded (``carbon_confirm_time``, a fraction of the main run's time);
the suspects most likely to be real go first. A test marked ``carbon_no_repeat`` (or every test,
with ``--carbon-confirm=0``) is never run twice.

The first repeat of a test may also set up fixtures of a wider scope that the end of the main
run tore down; the verdict takes the median of the repeats, so one such repeat does not decide.

A repeat is started only when it is expected to fit, and one that runs on past the bound is
stopped there (a timer in the main thread, where SIGALRM is free; elsewhere the bound is checked
between repeats only): a test that was quick in the run because an earlier test warmed what it
uses can take far longer alone (measured: 0.16 s in the run, 6.7 s repeated).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_carbon.budget import NO_REPEAT

if TYPE_CHECKING:
    from pytest_carbon.budget import Budget
    from pytest_carbon.compare import Baseline
    from pytest_carbon.session import CarbonSession


#: unchanged tests of each suspect's module run again once, to tell whether a second run is
#: comparable with a first there (whether code caches its results is a property of the code a
#: module tests: in one module of a real suite a second run took 0.5 % of the first, while
#: another module's took 100 %)
MODULE_CONTROLS = 2
#: a module's controls are at most this share of its largest suspect's time, and at least ``MIN_CONTROL_S``
CONTROL_SIZE = 0.5
MIN_CONTROL_S = 0.005
#: controls in all, made up from other modules where the suspects' modules have too few
CONTROLS = 3
#: share of the time bound the controls may take
CONTROLS_SHARE = 1 / 3
#: a repeat is stopped when it runs this many times what it was expected to take (at least
#: ``MIN_LIMIT_S``): that test is not in the state of the main run here (an earlier test had warmed
#: what it uses, or its input is random), its figure is not used and it is not repeated again; the
#: other repeats go on (measured: repeats of 0.05-0.2 s tests that ran to the bound, 1.1 s, and
#: took the time of every suspect after them)
OVERRUN = 3.0
MIN_LIMIT_S = 0.02
#: repeats of different tests stopped that way one after another: the process is out of the run's
#: state (a test left global state behind), and the confirmations stop
OVERRUNS_IN_A_ROW = 2
#: where the timer cannot stop a repeat (no SIGALRM, not the main thread), one that took
#: ``OVERRUN`` times its expected time and over this stops the confirmations
OVERRUN_STOP_S = 1.0


class Confirmer:
    """Screens the finished tests against the baseline and measures the suspects again."""

    def __init__(
        self,
        session: CarbonSession,
        *,
        times: int,
        time_fraction: float,
        baseline: Baseline | None = None,
        threshold: float = 0.15,
        floor: float = 0.05,  # compare.TEST_FLOOR_J
    ) -> None:
        self.carbon = session
        self.times = times
        self.time_fraction = time_fraction
        self.baseline = baseline
        self.threshold = threshold
        self.floor = floor
        #: node id -> (budget, key of the figure it limits) of tests over budget within its noise
        self.budget_suspects: dict[str, Budget] = {}
        self._phases = _Phases()

    # ------------------------------------------------------------------ screening

    def _scale(self) -> float:
        """Reference joules per CPU second of this process now (the calibration so far)."""
        from pytest_carbon.calibrate import NOMINAL_S, summarise
        from pytest_carbon.compare import REFERENCE_W

        cal = float(summarise(self.carbon.calibrations)["cpu_s"])
        return REFERENCE_W * (NOMINAL_S / cal if cal > 0 else 1.0)

    def regression_suspects(self, cpu_by_index: list[float]) -> list[tuple[float, str]]:
        """(screening p-value, node id) of the tests that look regressed, most likely first."""
        baseline = self.baseline
        if baseline is None or baseline.metric != "reference":
            return []
        from pytest_carbon.compare import SCREEN_ALPHA, benjamini_hochberg, suspect

        scale = self._scale()
        found: dict[str, float] = {}
        for index, nodeid in enumerate(self.carbon.tests.nodeids):
            stat = baseline.tests.get(nodeid)
            if stat is None or index >= len(cpu_by_index):
                continue
            p = suspect(stat, cpu_by_index[index] * scale, self.threshold, self.floor)
            if p is not None:
                found[nodeid] = p
        chosen = benjamini_hochberg(found, SCREEN_ALPHA)
        return sorted((p, nodeid) for nodeid, p in found.items() if nodeid in chosen)

    # ------------------------------------------------------------------ the repeats

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield
        carbon = self.carbon
        if self.times <= 0 or carbon.meter is None or carbon.role == "controller":
            return result
        if session.shouldfail or session.shouldstop:
            return result
        try:
            self.confirm(session)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # a confirmation must never break the run
            carbon.problems.append(f"the confirmations stopped: {err!r}")
        return result

    def confirm(self, session: pytest.Session) -> None:
        """Run the suspects again within the time bound; record what each repeat measured.

        Round by round: every suspect is measured once (the most significant first) before any is
        measured a second time, so that the time bound spreads over as many suspects as it can.
        A repeat starts only when the time it is expected to take (the longer of the test's own
        time in the main run and its last repeat) still fits.
        """
        carbon = self.carbon
        meter = carbon.meter
        assert meter is not None
        n = len(carbon.tests)
        walls, cpus = meter.phase_totals(n)
        main_s = max(time.perf_counter() - carbon.perf_started, 0.0)
        allowed_s = main_s * self.time_fraction
        items = {item.nodeid: item for item in session.items}
        order: list[tuple[str, str]] = [(nodeid, "budget") for nodeid in self.budget_suspects]
        order += [
            (nodeid, "regression") for _, nodeid in self.regression_suspects(cpus) if nodeid not in self.budget_suspects
        ]
        if not order:
            carbon.confirmation_summary.update(tests=0, runs=0, duration_s=0.0, skipped=0, allowed_s=allowed_s)
            return
        index_of = {nodeid: i for i, nodeid in enumerate(carbon.tests.nodeids)}
        plan: list[tuple[str, str, pytest.Item]] = []
        for nodeid, why in order:
            item = items.get(nodeid)
            if item is None or nodeid not in index_of:
                continue
            if item.get_closest_marker(NO_REPEAT) is not None:
                carbon.confirmation_notes.append(f"{nodeid} looked {_what(why)} but is marked {NO_REPEAT}")
                continue
            plan.append((nodeid, why, item))
        controls = self._controls(plan, items, index_of, walls)
        bucket = carbon.reserve_confirmation_bucket()
        started = time.perf_counter()
        deadline = started + allowed_s
        everyone = controls + plan
        expected = {nodeid: max(walls[index_of[nodeid]], 1e-6) for nodeid, _, _ in everyone}
        values: dict[str, dict[str, list[float]]] = {nodeid: {} for nodeid, _, _ in everyone}
        # the controls once each, first; then the suspects round by round
        schedule = controls + [entry for _ in range(self.times) for entry in plan]
        controls_deadline = started + allowed_s * CONTROLS_SHARE
        controls_s = 0.0
        log: list[dict[str, Any]] = []  # each repeat: what it was expected to take and what it took
        settled: set[str] = set()  # suspects whose repeats so far decide their verdict: not repeated again
        overruns = 0  # repeats stopped at OVERRUN times their expected time, in a row
        scale = self._scale()
        # which phase a repeat is in, for the timer: registered for the confirmations only (no cost to the run)
        plugins = session.config.pluginmanager
        plugins.register(self._phases, "carbon-confirm-phases")
        try:
            for position, (nodeid, why, item) in enumerate(schedule):
                now = time.perf_counter()
                bound = controls_deadline if why == "control" else deadline
                if nodeid in settled or now + expected[nodeid] > bound:
                    continue
                following = next(
                    (
                        e
                        for e in schedule[position + 1 :]
                        if e[0] not in settled and now + expected[nodeid] + expected[e[0]] <= deadline
                    ),
                    None,
                )
                # pytest tears down what the next repeat does not share; the same test again keeps its
                # module and class, but not its own node (whose fixtures must be set up again)
                nextitem: Any = None
                if following is not None:
                    nextitem = _Parents(item) if following[2] is item else following[2]
                held = {key: len(kept) for key, kept in values[nodeid].items()}
                left_s = max(bound - now, 0.01)
                cap_s = max(OVERRUN * expected[nodeid], MIN_LIMIT_S)
                limit_s = min(left_s, cap_s)
                wall_s, stopped = self._repeat_once(item, bucket, why == "budget", nextitem, values[nodeid], limit_s)
                log.append({"nodeid": nodeid, "reason": why, "expected_s": expected[nodeid], "wall_s": wall_s})
                if why == "control":
                    controls_s += wall_s
                if stopped and cap_s < left_s:
                    settled.add(nodeid)
                    overruns += 1
                    carbon.confirmation_notes.append(
                        f"{nodeid}: a repeat ran {OVERRUN:g} times its time in the run ({expected[nodeid]:.2f} s) "
                        "and was stopped: not in the state of the run here; its figure is not used and it is not "
                        "repeated again"
                        + ("; two in a row: the confirmations stopped there" if overruns >= OVERRUNS_IN_A_ROW else "")
                    )
                    if overruns >= OVERRUNS_IN_A_ROW:
                        break  # the process, not one test, is out of the run's state
                    continue
                overruns = 0
                if stopped:
                    what = "the controls'" if why == "control" else "the confirmations'"
                    carbon.confirmation_notes.append(
                        f"{nodeid}: a repeat ran past {what} time bound ({wall_s:.2f} s against "
                        f"{expected[nodeid]:.2f} s expected) and was stopped"
                        + ("" if why == "control" else "; the confirmations stopped there")
                    )
                    if why == "control":
                        continue  # the suspects have their own share of the bound
                    break
                if wall_s > OVERRUN * expected[nodeid] and wall_s > OVERRUN_STOP_S:
                    for key, kept in values[nodeid].items():  # measured in another state: not used
                        del kept[held.get(key, 0) :]
                    carbon.confirmation_notes.append(
                        f"{nodeid}: a repeat took {wall_s:.1f} s against {expected[nodeid]:.2f} s expected: this "
                        "process is no longer in the state of the run; the confirmations stopped there"
                    )
                    break  # what the repeat left set up is torn down at the session's end, as usual
                expected[nodeid] = max(expected[nodeid], wall_s)
                if why == "regression" and self._decided(nodeid, values[nodeid].get("cpu_time_s"), scale):
                    settled.add(nodeid)
        finally:
            plugins.unregister(self._phases)

        from pytest_carbon.compare import controls_by_module, module_of

        ratios: dict[str, list[float]] = {}  # by module: each control's second run over its first
        for nodeid, _, _ in controls:
            again = values[nodeid].get("cpu_time_s")
            if again and cpus[index_of[nodeid]] > 0:
                ratios.setdefault(module_of(nodeid), []).append(again[0] / cpus[index_of[nodeid]])
        if ratios:
            carbon.confirmation_summary.update(controls_by_module(ratios, self.threshold))
        skipped = 0
        for nodeid, why, _ in plan:
            measured = values[nodeid]
            if measured.get("cpu_time_s"):
                carbon.confirmations[nodeid] = {**measured, "reason": why}
            else:
                skipped += 1
        carbon.confirmation_summary.update(
            tests=len(carbon.confirmations),
            runs=sum(len(v.get("cpu_time_s", [])) for v in carbon.confirmations.values()),
            duration_s=time.perf_counter() - started,
            controls_s=controls_s,
            repeats=log,
            skipped=skipped,
            allowed_s=allowed_s,
        )

    def _decided(self, nodeid: str, cpu: list[float] | None, scale: float) -> bool:
        """True when a suspect's repeats so far decide its verdict (``compare.repeats_decide``)."""
        stat = self.baseline.tests.get(nodeid) if self.baseline is not None else None
        if stat is None or not cpu:
            return False
        from pytest_carbon.compare import repeats_decide

        return repeats_decide(stat, [c * scale for c in cpu], self.threshold)

    def _controls(
        self,
        plan: list[tuple[str, str, pytest.Item]],
        items: Mapping[str, pytest.Item],
        index_of: Mapping[str, int],
        walls: list[float],
    ) -> list[tuple[str, str, pytest.Item]]:
        """Unchanged tests to run again once: up to ``MODULE_CONTROLS`` from each suspect's module.

        Their second run against their first tells whether a second run in that module is
        comparable with a first: where the code under test caches its results (a common case),
        every test of the module runs faster the second time, and a repeat back within the
        baseline's band then says nothing about the first measurement. They are the largest
        unchanged tests of the module under half of its largest suspect's time (cheap, and
        closest in kind); where the suspects' modules give fewer than ``CONTROLS``, unchanged
        tests of other modules of about the suspects' size make up the number. The first control
        of every module runs before any module's second.
        """
        if not plan:
            return []
        from pytest_carbon.compare import module_of

        suspects = {nodeid for nodeid, _, _ in plan}
        largest: dict[str, float] = {}
        for nodeid in suspects:
            module = module_of(nodeid)
            largest[module] = max(largest.get(module, 0.0), walls[index_of[nodeid]])
        free = [
            (walls[index], nodeid)
            for nodeid, index in index_of.items()
            if nodeid not in suspects and nodeid in items and items[nodeid].get_closest_marker(NO_REPEAT) is None
        ]
        by_module: dict[str, list[tuple[float, str]]] = {module: [] for module in largest}
        for wall, nodeid in free:
            module = module_of(nodeid)
            if module in largest and MIN_CONTROL_S <= wall <= largest[module] * CONTROL_SIZE:
                by_module[module].append((wall, nodeid))
        ranked = [[nodeid for _, nodeid in sorted(c, reverse=True)[:MODULE_CONTROLS]] for c in by_module.values()]
        chosen = [names[rank] for rank in range(MODULE_CONTROLS) for names in ranked if rank < len(names)]
        if len(chosen) < CONTROLS:
            # no larger than the suspects' median: the controls are there to tell, not to spend the bound
            sizes = sorted(walls[index_of[nodeid]] for nodeid in suspects)
            target = sizes[len(sizes) // 2]
            others = sorted((target - wall, nodeid) for wall, nodeid in free if target / 4 <= wall <= target)
            taken = set(chosen)
            chosen += [nodeid for _, nodeid in others if nodeid not in taken][: CONTROLS - len(chosen)]
        return [(nodeid, "control", items[nodeid]) for nodeid in chosen]

    def _repeat_once(
        self,
        item: pytest.Item,
        bucket: int,
        energy: bool,
        nextitem: Any,
        into: dict[str, list[float]],
        limit_s: float = 0.0,
    ) -> tuple[float, bool]:
        """Run ``item`` once more, charged to ``bucket``; add its figures to ``into``.

        Returns its wall seconds, and True when it ran past ``limit_s`` and was stopped (its
        figure is then not used). ``limit_s`` 0: no limit.
        """
        from _pytest.runner import runtestprotocol

        carbon = self.carbon
        meter = carbon.meter
        assert meter is not None
        position = meter.phase_count()
        before = meter.figures_for(bucket).energy_j if energy else 0.0
        started = time.perf_counter()
        reports: list[pytest.TestReport] = []
        stopped = False
        carbon.charge_to(item, bucket)
        try:
            # the previous repeat kept what it expected the next one to share: tear down what this one does not
            item.session._setupstate.teardown_exact(item)
            with _time_limit(limit_s, self._phases.stoppable) as out_of_time:
                reports = runtestprotocol(item, log=False, nextitem=nextitem)
            stopped = out_of_time()
        except _OutOfTime:  # the timer rang after the protocol, before it was disarmed
            stopped = True
        finally:
            carbon.charge_to(None, bucket)
        wall_s = time.perf_counter() - started
        _, cpu_s = meter.cpu_since(position)
        if stopped:
            return wall_s, True
        if any(r.failed for r in reports) or not any(r.when == "call" and r.passed for r in reports):
            carbon.confirmation_notes.append(f"{item.nodeid}: a repeat did not pass; its figure is not used")
            return wall_s, False
        into.setdefault("cpu_time_s", []).append(cpu_s)
        if energy:
            spent_j = max(meter.figures_for(bucket).energy_j - before, 0.0)
            into.setdefault("energy_j", []).append(spent_j)
            into.setdefault("co2_g", []).append(spent_j * carbon.co2_factor())
        return wall_s, False


class _OutOfTime(BaseException):
    """Raised inside a repeat that ran past the confirmations' time bound (pytest reports it as a failed phase)."""


#: once the timer rang, it rings again this often while the repeat's set-up or call still runs
#: (test code that catches every exception may have swallowed the last one)
RING_AGAIN_S = 0.02


class _Phases:
    """Which phase of a repeat runs now: registered only while the confirmations run."""

    def __init__(self) -> None:
        self.now: str | None = None

    def _wrap(self, phase: str) -> Generator[None, object, object]:
        self.now = phase
        try:
            return (yield)
        finally:
            self.now = None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._wrap("setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._wrap("call"))

    def stoppable(self) -> bool:
        """True in a set-up or a call; never in a tear-down, whose finalizers must run."""
        return self.now is not None


@contextmanager
def _time_limit(seconds: float, stoppable: Callable[[], bool] = lambda: True) -> Iterator[Any]:
    """Stop what runs inside after ``seconds`` (main thread, SIGALRM unused); yields "did it ring?".

    The timer raises ``_OutOfTime`` only while ``stoppable()`` (a repeat's set-up or call), and
    rings again every ``RING_AGAIN_S`` until what runs inside is done: test code that catches
    every exception does not keep a repeat running past the bound (measured: a repeat that went
    on to 1.14 s against 0.9 s left, 16 times its time in the run). Where the timer cannot be used
    (another thread, no SIGALRM, a handler already installed), it does nothing and the bound is
    checked between repeats only.
    """
    rang = [False]
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
    )
    if not usable:
        yield lambda: False
        return

    def ring(signum: int, frame: Any) -> None:
        rang[0] = True
        signal.setitimer(signal.ITIMER_REAL, RING_AGAIN_S)
        if stoppable():
            raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield lambda: rang[0]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Parents:
    """Stands for "the next item" in pytest's tear-down: the same collectors, not the test itself."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def listchain(self) -> list[Any]:
        return self._item.listchain()[:-1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._item, name)


def _what(why: str) -> str:
    return "over its budget" if why == "budget" else "regressed"
