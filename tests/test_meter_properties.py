"""Property tests of the attribution with fake clocks: whatever the timings, nothing is created or lost."""

from __future__ import annotations

import pytest
from carbon_helpers import FixedProbe
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest_carbon.meter as meter_module
from pytest_carbon.meter import Meter


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
        st.sampled_from(["phase", "sample", "gap"]),
        st.integers(0, 50_000_000),
        st.integers(0, 50_000_000),
        st.integers(0, 100_000_000),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(events=events, scope=st.sampled_from(["process", "machine"]), processes=st.integers(1, 4))
def test_tests_never_exceed_the_total(events: list[tuple[str, int, int, int]], scope: str, processes: int) -> None:
    clocks = FakeClocks()
    patch = pytest.MonkeyPatch()
    patch.setattr(meter_module, "_perf_ns", lambda: clocks.wall_ns)
    patch.setattr(meter_module, "cpu_now_ns", lambda: clocks.cpu_ns)
    try:
        meter = Meter([FixedProbe()], period_s=0.02, scope=scope, processes=processes, threads=2)
        meter._read_cpu = lambda: (clocks.machine_busy_s, 0.0)
        meter._read_mem = lambda: 1.0
        meter.sample()
        tests = 0
        for kind, wall, cpu, others in events:
            cpu = min(cpu, 2 * wall)  # two threads at most
            if kind == "phase":
                meter.begin_phase()
                clocks.advance(wall, cpu, others)
                meter.end_phase(tests)
                tests += 1
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
    assert totals.energy_j >= 0
    assert tests_energy <= totals.energy_j * (1 + 1e-9) + 1e-12
    for fig in figures:
        assert fig.energy_j >= 0
        assert 0 <= fig.dynamic_energy_j <= fig.energy_j * (1 + 1e-9) + 1e-15
        assert sum(fig.components_j.values()) == pytest.approx(fig.energy_j, rel=1e-9, abs=1e-12)
    assert sum(totals.components_j.values()) == pytest.approx(totals.energy_j, rel=1e-9, abs=1e-12)
    # static energy: the process's share of 12 W (10 W cpu + 2 W ram) over the whole timeline
    duration_s = totals.duration_s
    assert totals.static_j == pytest.approx(12.0 * duration_s / processes, rel=1e-6, abs=1e-9)
