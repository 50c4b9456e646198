"""The meter alone, without pytest: attribution, conservation, response to the code."""

from __future__ import annotations

import statistics
import time

import pytest
from carbon_helpers import FixedProbe, busy_cpu

from pytest_carbon.meter import Meter
from pytest_carbon.probes.base import ComponentEnergy, MachineLoad, Probe, ProbeError


def run(meter: Meter, work: list[tuple[str, float]]) -> None:
    meter.start()
    for index, (kind, seconds) in enumerate(work):
        for _ in range(3):  # set-up, call, tear-down
            meter.begin_phase()
            if kind == "busy":
                busy_cpu(seconds / 3)
            else:
                time.sleep(seconds / 3)
            meter.end_phase(index)
    meter.stop()
    meter.close()


def test_tests_plus_remainder_equal_the_total() -> None:
    meter = Meter([FixedProbe()], period_s=0.01)
    work = [("busy", 0.003), ("sleep", 0.004)] * 20
    run(meter, work)
    figures, totals = meter.attribute(len(work))
    tests = sum(f.energy_j for f in figures)
    assert totals.energy_j > 0
    assert tests <= totals.energy_j * (1 + 1e-9)
    remainder = totals.energy_j - tests
    assert remainder >= 0
    assert totals.intervals >= 5
    assert sum(totals.components_j.values()) == pytest.approx(totals.energy_j, rel=1e-9)
    for fig in figures:
        assert sum(fig.components_j.values()) == pytest.approx(fig.energy_j, rel=1e-9)


def test_compute_gets_dynamic_energy_and_sleep_does_not() -> None:
    meter = Meter([FixedProbe()], period_s=0.02)
    work = [("busy", 0.05), ("sleep", 0.05)]
    run(meter, work)
    (busy, sleep), _ = meter.attribute(2)
    assert busy.dynamic_energy_j > 0
    assert sleep.dynamic_energy_j < 0.05 * busy.dynamic_energy_j
    assert sleep.energy_j < busy.energy_j
    # static power is charged by wall time: both tests took about 50 ms
    assert sleep.energy_j - sleep.dynamic_energy_j == pytest.approx(busy.energy_j - busy.dynamic_energy_j, rel=0.5)


def test_dynamic_energy_follows_cpu_time_of_short_tests() -> None:
    meter = Meter([FixedProbe()], period_s=0.05)
    work = [("busy", 0.0005), ("busy", 0.001)] * 40
    run(meter, work)
    figures, _ = meter.attribute(len(work))
    short = statistics.mean(f.dynamic_energy_j for f in figures[0::2])
    long = statistics.mean(f.dynamic_energy_j for f in figures[1::2])
    assert 1.6 <= long / short <= 2.4


class FailingProbe(Probe):
    name = "flaky"
    components = ("cpu",)

    def __init__(self) -> None:
        self.reads = 0

    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        self.reads += 1
        if self.reads > 2:
            raise ProbeError("counter vanished")
        return [ComponentEnergy("cpu", load.duration_s, 0.0, True, self.name)]


def test_a_probe_that_fails_is_dropped_and_named() -> None:
    seen = []
    meter = Meter([FailingProbe(), FixedProbe()], period_s=0.01, on_probe_error=lambda p, e: seen.append(p.name) or [])
    run(meter, [("sleep", 0.06)])
    _, totals = meter.attribute(1)
    assert meter.failed_probes == {"flaky": "counter vanished"}
    assert seen == ["flaky"]
    assert totals.energy_j > 0


def test_figures_for_matches_final_attribution() -> None:
    meter = Meter([FixedProbe()], period_s=10)
    meter.start()
    online = []
    for index in range(5):
        meter.begin_phase()
        busy_cpu(0.002)
        meter.end_phase(index)
        online.append(meter.figures_for(index))
    meter.stop()
    meter.close()
    final, _ = meter.attribute(5)
    for a, b in zip(online, final, strict=True):
        assert a.energy_j == pytest.approx(b.energy_j, rel=1e-6)
        assert a.dynamic_energy_j == pytest.approx(b.dynamic_energy_j, rel=1e-6)
