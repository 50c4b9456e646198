"""Property tests of the attribution with fake clocks: whatever the timings, nothing is created or lost."""

from __future__ import annotations

import pytest
from carbon_helpers import FixedProbe
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_carbon.meter as meter_module
from pytest_carbon.meter import Meter, TestFigures
from pytest_carbon.probes.base import ComponentEnergy, MachineLoad, Probe


class FakeClocks:
    def __init__(self) -> None:
        self.wall_ns = 1_000_000_000
        self.cpu_ns = 0
        self.machine_busy_s = 100.0

    def advance(self, wall_ns: int, cpu_ns: int, others_busy_ns: int) -> None:
        self.wall_ns += wall_ns
        self.cpu_ns += cpu_ns
        self.machine_busy_s += (cpu_ns + others_busy_ns) / 1e9


# an event: (kind, wall advance, cpu advance, other processes' busy advance)
events = st.lists(
    st.tuples(
        st.sampled_from(["phase", "phase", "same-test", "sample", "gap"]),
        st.integers(0, 50_000_000),
        st.integers(0, 50_000_000),
        st.integers(0, 100_000_000),
    ),
    min_size=1,
    max_size=60,
)


def reference_attribution(meter: Meter, n_tests: int) -> list[TestFigures]:
    """The attribution written plainly, phase by phase and piece by piece, to check the fast one."""
    samples, walls, phases = meter._samples, meter._walls, meter._phases
    pieces = []
    wall_sum = [0.0] * len(samples)
    cpu_sum = [0.0] * len(samples)
    figures = [TestFigures() for _ in range(n_tests)]
    for i in range(0, len(phases), 5):
        test, t0, t1, c0, c1 = phases[i : i + 5]
        figures[test].duration_s += (t1 - t0) / 1e9
        figures[test].cpu_time_s += max(c1 - c0, 0) / 1e9
        for k, w, c in Meter._pieces(samples, walls, t0, t1, c0, c1):
            pieces.append((test, k, w, c))
            wall_sum[k] += w
            cpu_sum[k] += c
    for test, k, w, c in pieces:
        wall_den = max((samples[k].wall_ns - samples[k - 1].wall_ns) / 1e9, wall_sum[k])
        cpu_den = max((samples[k].cpu_ns - samples[k - 1].cpu_ns) / 1e9, cpu_sum[k])
        static, dynamic = meter._process_energy(samples[k], samples[k - 1])
        w_frac = w / wall_den if wall_den > 0 else 0.0
        c_frac = c / cpu_den if cpu_den > 0 else 0.0
        fig = figures[test]
        for comp, s in static.items():  # static energy by wall time
            fig.components_j[comp] = fig.components_j.get(comp, 0.0) + s * w_frac
            fig.energy_j += s * w_frac
        for comp, d in dynamic.items():  # dynamic energy by CPU time, the GPU's by wall time
            e = d * (w_frac if comp == "gpu" else c_frac)
            fig.components_j[comp] = fig.components_j.get(comp, 0.0) + e
            fig.energy_j += e
            fig.dynamic_energy_j += e
    return figures


class GpuProbe(Probe):
    """50 W idle and 100 W of work whenever the interval lasts: GPU energy, charged by wall time."""

    name = "gpu-fixed"
    components = ("gpu",)

    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        return [ComponentEnergy("gpu", 50.0 * load.duration_s, 100.0 * load.duration_s, False, self.name)]


@settings(max_examples=150, deadline=None)
@given(
    events=events,
    scope=st.sampled_from(["process", "machine"]),
    processes=st.integers(1, 4),
    gpu=st.booleans(),
)
def test_tests_never_exceed_the_total(
    events: list[tuple[str, int, int, int]], scope: str, processes: int, gpu: bool
) -> None:
    clocks = FakeClocks()
    patch = pytest.MonkeyPatch()
    patch.setattr(meter_module, "_perf_ns", lambda: clocks.wall_ns)
    patch.setattr(meter_module, "cpu_now_ns", lambda: clocks.cpu_ns)
    patch.setattr(meter_module, "_proc_ns", lambda: clocks.cpu_ns)
    patch.setattr(meter_module, "_children_ns", lambda: 0)
    try:
        probes: list[Probe] = [FixedProbe(), GpuProbe()] if gpu else [FixedProbe()]
        meter = Meter(probes, period_s=0.02, scope=scope, processes=processes, threads=2)
        meter._read_cpu = lambda: (clocks.machine_busy_s, 0.0)
        meter._read_mem = lambda: 1.0
        meter.sample()
        tests = 0
        for kind, wall, cpu, others in events:
            cpu = min(cpu, 2 * wall)  # two threads at most
            if kind == "phase" or (kind == "same-test" and tests > 0):
                # "same-test": another phase of the test before (its set-up, call, tear-down)
                meter.begin_phase()
                clocks.advance(wall, cpu, others)
                meter.end_phase(tests if kind == "phase" else tests - 1)
                tests += kind == "phase"
            elif kind == "sample":
                clocks.advance(wall, cpu, others)
                meter.sample()
            else:
                clocks.advance(wall, cpu, others)
        meter.sample()
        figures, totals = meter.attribute(tests)
    finally:
        patch.undo()
    tests_energy = sum(f.energy_j for f in figures)
    for fig, expected in zip(figures, reference_attribution(meter, tests), strict=True):
        assert fig.duration_s == pytest.approx(expected.duration_s, rel=1e-9, abs=1e-15)
        assert fig.cpu_time_s == pytest.approx(expected.cpu_time_s, rel=1e-9, abs=1e-15)
        assert fig.energy_j == pytest.approx(expected.energy_j, rel=1e-9, abs=1e-15)
        assert fig.dynamic_energy_j == pytest.approx(expected.dynamic_energy_j, rel=1e-9, abs=1e-15)
        assert fig.components_j == pytest.approx(expected.components_j, rel=1e-9, abs=1e-15)
    assert totals.energy_j >= 0
    assert tests_energy <= totals.energy_j * (1 + 1e-9) + 1e-12
    for fig in figures:
        assert fig.energy_j >= 0
        assert 0 <= fig.dynamic_energy_j <= fig.energy_j * (1 + 1e-9) + 1e-15
        assert sum(fig.components_j.values()) == pytest.approx(fig.energy_j, rel=1e-9, abs=1e-12)
    assert sum(totals.components_j.values()) == pytest.approx(totals.energy_j, rel=1e-9, abs=1e-12)
    # static energy: the process's share of 12 W (10 W cpu + 2 W ram), and 50 W of GPU, over the whole timeline
    duration_s = totals.duration_s
    static_w = 12.0 + (50.0 if gpu else 0.0)
    assert totals.static_j == pytest.approx(static_w * duration_s / processes, rel=1e-6, abs=1e-9)


# an event of a worker: as above, plus "send" (a piece of the timeline goes to the controller)
worker_events = st.lists(
    st.tuples(
        st.sampled_from(["phase", "phase", "same-test", "sample", "gap", "send"]),
        st.integers(0, 50_000_000),
        st.integers(0, 50_000_000),
        st.integers(0, 100_000_000),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    events=worker_events,
    scope=st.sampled_from(["process", "machine"]),
    processes=st.integers(1, 4),
    gpu=st.booleans(),
    dies=st.booleans(),
    offset=st.integers(0, 3),
)
def test_the_controller_attributes_a_worker_timeline_as_the_worker_would(
    events: list[tuple[str, int, int, int]], scope: str, processes: int, gpu: bool, dies: bool, offset: int
) -> None:
    """Under xdist the controller attributes each worker's timeline from the pieces it sent.

    The figures are those of the worker's own attribution of the same timeline, bit for bit; a
    worker that dies (its last piece never sent) keeps exactly the tests that the pieces it sent
    counted and that ended before the last sample it sent, with those same figures (a test run
    again after that piece, as a rerun plugin does, keeps what the pieces held of it: its later
    attempt is lost with the worker, as a running test is), and the others have none.
    """
    execnet = pytest.importorskip("execnet")
    from pytest_carbon.meter import AllFigures
    from pytest_carbon.xdist import WorkerTimeline

    clocks = FakeClocks()
    patch = pytest.MonkeyPatch()
    patch.setattr(meter_module, "_perf_ns", lambda: clocks.wall_ns)
    patch.setattr(meter_module, "cpu_now_ns", lambda: clocks.cpu_ns)
    patch.setattr(meter_module, "_proc_ns", lambda: clocks.cpu_ns)
    patch.setattr(meter_module, "_children_ns", lambda: 0)
    received = WorkerTimeline("gw0")
    sent = [0, 0]  # phases and samples sent so far
    last_sent_wall = None
    counted = 0  # the tests the last piece sent counted

    def send() -> None:
        nonlocal last_sent_wall, counted
        counted = tests
        phases, samples, sent[0], sent[1] = meter.export(sent[0], sent[1])
        piece = {"tests": tests, "phases": phases, "samples": samples, "processes": meter.processes}
        received.add(execnet.loads(execnet.dumps(piece)), scope)  # as the report travels
        if samples:
            last_sent_wall = samples[-1][0]

    try:
        probes: list[Probe] = [FixedProbe(), GpuProbe()] if gpu else [FixedProbe()]
        meter = Meter(probes, period_s=0.02, scope=scope, processes=processes, threads=2)
        meter._read_cpu = lambda: (clocks.machine_busy_s, 0.0)
        meter._read_mem = lambda: 1.0
        meter.sample()
        tests = 0
        for kind, wall, cpu, others in events:
            cpu = min(cpu, 2 * wall)
            if kind == "phase" or (kind == "same-test" and tests > 0):
                meter.begin_phase()
                clocks.advance(wall, cpu, others)
                meter.end_phase(tests if kind == "phase" else tests - 1)
                if kind == "phase":
                    # the controller's index of the worker's test: another worker's tests in between
                    received.indices.append(offset + 2 * tests)
                    tests += 1
            elif kind == "send":
                send()
            else:
                clocks.advance(wall, cpu, others)
                meter.sample()
        meter.sample()
        if not dies:
            send()  # the last piece, in workeroutput
            received.complete = True
        expected, totals = meter.attribute(tests)
    finally:
        patch.undo()
    n = offset + 2 * tests
    into = AllFigures(n)
    have = bytearray(n)
    got_totals = received.attribute(into, have)
    ended_before: set[int] = set()
    resumed: set[int] = set()  # tests with a phase recorded after the last piece went
    if last_sent_wall is not None:
        phases = meter._phases
        sent_phases = phases[: sent[0] * 5]
        late = {test for test, t1 in zip(sent_phases[0::5], sent_phases[2::5], strict=True) if t1 > last_sent_wall}
        ended_before = set(range(counted)) - late
        resumed = set(phases[sent[0] * 5 :: 5])
    kept = set(range(tests)) if not dies else ended_before
    for i in range(tests):
        g = offset + 2 * i
        if i in kept and dies and i in resumed:
            # what the pieces held of it, never more than the worker's own figure of the whole
            assert have[g] == 1
            assert into[g].cpu_time_s <= expected[i].cpu_time_s and into[g].duration_s <= expected[i].duration_s
        elif i in kept:
            assert have[g] == 1
            fig, want = into[g], expected[i]
            assert (fig.duration_s, fig.cpu_time_s, fig.energy_j, fig.dynamic_energy_j) == (
                want.duration_s,
                want.cpu_time_s,
                want.energy_j,
                want.dynamic_energy_j,
            )
            assert fig.components_j == want.components_j
        else:
            assert have[g] == 0 and into.energy_j[g] == 0.0
    assert not any(have[g] for g in range(n) if g < offset or (g - offset) % 2)  # nobody else's index
    if not dies:
        assert got_totals is not None
        assert (got_totals.energy_j, got_totals.static_j, got_totals.dynamic_j) == (
            totals.energy_j,
            totals.static_j,
            totals.dynamic_j,
        )
    if got_totals is not None:  # conserved: what the tests got never exceeds what the timeline holds
        assert sum(into.energy_j) <= got_totals.energy_j * (1 + 1e-9) + 1e-12
