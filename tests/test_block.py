"""Metering a block: the ``carbon`` fixture inside a test and ``pytest_carbon.meter`` without pytest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

import pytest_carbon
from pytest_carbon.units import co2_g_per_j


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_library_meters_a_block_with_the_region_asked() -> None:
    with pytest_carbon.meter("spin", region="FR", probe="model") as m:
        _spin(0.2)
    assert m.region["code"] == "FR" and m.region["known"]
    assert m.cpu_time_s >= 0.19 and m.duration_s >= m.cpu_time_s * 0.5
    assert m.energy_j > 0 and m.dynamic_energy_j > 0
    assert m.co2_g == pytest.approx(m.energy_j * co2_g_per_j(m.region))
    assert sum(m.components_j.values()) == pytest.approx(m.energy_j, rel=1e-9)
    assert [p["name"] for p in m.probes] == ["model"]


def test_work_costs_more_than_waiting() -> None:
    with pytest_carbon.meter(region="FR", probe="model") as busy:
        _spin(0.2)
    with pytest_carbon.meter(region="FR", probe="model") as idle:
        time.sleep(0.2)
    assert busy.dynamic_energy_j > 5 * idle.dynamic_energy_j


def test_the_decorator_meters_each_call() -> None:
    calls = []

    @pytest_carbon.meter("job", region="DE", probe="model")
    def job(n: int) -> int:
        calls.append(n)
        _spin(0.05)
        return n * 2

    assert job(3) == 6 and job.__name__ == "job"
    first = job.carbon.energy_j  # type: ignore[attr-defined]
    assert first > 0 and job.carbon.region["code"] == "DE"  # type: ignore[attr-defined]
    assert job(4) == 8 and calls == [3, 4]
    assert job.carbon.cpu_time_s == pytest.approx(0.05, abs=0.04)  # type: ignore[attr-defined]


def test_an_unknown_region_is_refused_before_the_block() -> None:
    with pytest.raises(ValueError, match="unknown region 'XX'"):
        pytest_carbon.meter(region="XX")
    with pytest.raises(ValueError, match="unknown probe"):
        pytest_carbon.meter(probe="thermometer")


def test_the_library_works_without_pytest() -> None:
    code = (
        "import sys, time\n"
        "import pytest_carbon\n"
        "with pytest_carbon.meter(region='FR', probe='model') as m:\n"
        "    end = time.process_time() + 0.05\n"
        "    while time.process_time() < end: pass\n"
        "print(m.energy_j, m.co2_g, 'pytest' in sys.modules, '_pytest' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    energy, co2, pytest_loaded, _pytest_loaded = done.stdout.split()
    assert float(energy) > 0 and float(co2) > 0
    assert (pytest_loaded, _pytest_loaded) == ("False", "False")


FIXTURE_SUITE = """
import time

def _spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def test_blocks(carbon):
    time.sleep(0.05)
    with carbon.meter("heavy") as heavy:
        _spin(0.2)
    with carbon.meter("light") as light:
        _spin(0.02)
    assert heavy.energy_j > light.energy_j > 0
    assert heavy.co2_g > 0
    print("FIGURES", heavy.energy_j, light.energy_j)
"""


def test_the_fixture_charges_blocks_from_the_session(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_blocks=FIXTURE_SUITE)
    result = carbon_pytester.runpytest("--carbon", "--carbon-region=FR", "--carbon-json=r.json", "-s")
    assert result.ret == 0
    report = json.loads((carbon_pytester.path / "r.json").read_text(encoding="utf-8"))
    (entry,) = report["tests"]
    heavy, light = entry["blocks"]
    assert (heavy["name"], light["name"]) == ("heavy", "light")
    # the fixed probe of the inner session: 10 W idle CPU + 20 W per busy thread + 2 W memory
    assert heavy["cpu_time_s"] == pytest.approx(0.2, abs=0.05)
    assert heavy["dynamic_energy_j"] == pytest.approx(20.0 * heavy["cpu_time_s"], rel=0.35)
    assert heavy["co2_g"] == pytest.approx(heavy["energy_j"] * co2_g_per_j(report["region"]))
    # the blocks are parts of the test: never more than the test itself
    assert heavy["energy_j"] + light["energy_j"] <= entry["energy_j"] * 1.02
    assert heavy["duration_s"] + light["duration_s"] < entry["duration_s"]
    printed = re.search(r"FIGURES (\S+) (\S+)", result.stdout.str())
    assert printed is not None
    assert float(printed[1]) == pytest.approx(heavy["energy_j"])


def test_the_fixture_meters_on_its_own_without_carbon(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_blocks=FIXTURE_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_blocks_cross_xdist_workers(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_blocks=FIXTURE_SUITE)
    result = carbon_pytester.runpytest("--carbon", "--carbon-json=r.json", "-n", "2", "-p", "xdist")
    assert result.ret == 0
    report = json.loads((carbon_pytester.path / "r.json").read_text(encoding="utf-8"))
    (entry,) = report["tests"]
    assert [b["name"] for b in entry["blocks"]] == ["heavy", "light"]
