"""pytest-xdist: every test once, static power counted once, a dead worker loses at most its last sampler period."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import load_report

pytest.importorskip("xdist")

SUITE = """
import time
import pytest

@pytest.mark.parametrize("i", range(12))
def test_one(i):
    time.sleep(0.01)

@pytest.mark.parametrize("i", range(12))
def test_two(i):
    sum(range(20000))
"""


@pytest.mark.parametrize("dist", ["load", "loadfile", "worksteal"])
def test_every_test_once_and_energy_conserved(carbon_pytester: pytest.Pytester, dist: str) -> None:
    carbon_pytester.makepyfile(test_a=SUITE, test_b=SUITE)
    path = carbon_pytester.path / "carbon.json"
    xml = carbon_pytester.path / "junit.xml"
    result = carbon_pytester.runpytest_subprocess(
        "-n", "2", f"--dist={dist}", "--carbon", f"--carbon-json={path}", f"--junitxml={xml}"
    )
    result.assert_outcomes(passed=48)
    report = load_report(path)
    nodeids = [t["nodeid"] for t in report["tests"]]
    assert len(nodeids) == 48
    assert len(set(nodeids)) == 48
    assert {t["worker"] for t in report["tests"]} == {"gw0", "gw1"}
    assert all(t["energy_j"] > 0 for t in report["tests"])
    session = report["session"]
    assert session["tests_energy_j"] + session["unattributed_energy_j"] == pytest.approx(session["energy_j"], rel=1e-3)
    assert session["unattributed_energy_j"] >= 0
    assert report["complete"] is True
    result.stdout.fnmatch_lines(["carbon: * CO2e, * over * s, 48 tests"])
    cases = list(ET.parse(xml).getroot().iter("testcase"))
    assert len(cases) == 48
    for case in cases:
        names = {p.get("name") for p in case.iter("property")}
        assert {"energy_j", "co2_g"} <= names


STATIC_PROBE = """
import pytest
from pytest_carbon.probes.base import ComponentEnergy, Probe

class Idle(Probe):
    name = "idle-heavy"
    components = ("cpu",)
    def read(self, load):
        return [ComponentEnergy("cpu", 100.0 * load.duration_s, 0.5 * load.cpu_busy_s, False, self.name)]

@pytest.hookimpl(optionalhook=True)
def pytest_carbon_probes(config):
    return [Idle()]
"""


def test_static_power_is_counted_once(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(STATIC_PROBE)
    pytester.makepyfile(
        """
import time
import pytest
@pytest.mark.parametrize("i", range(40))
def test_sleep(i):
    time.sleep(0.1)
"""
    )
    serial_path = pytester.path / "serial.json"
    parallel_path = pytester.path / "parallel.json"
    pytester.runpytest_subprocess("--carbon", f"--carbon-json={serial_path}").assert_outcomes(passed=40)
    pytester.runpytest_subprocess("-n", "2", "--carbon", f"--carbon-json={parallel_path}").assert_outcomes(passed=40)
    serial = load_report(serial_path)["session"]
    parallel = load_report(parallel_path)["session"]
    # the tests' static shares halve: two workers share the machine's idle power
    assert parallel["tests_energy_j"] == pytest.approx(serial["tests_energy_j"] / 2, rel=0.25)
    # the session's energy follows its duration, which adds the workers' start-up to half the
    # serial time: static power is counted once, not once per worker
    expected = serial["energy_j"] * parallel["duration_s"] / serial["duration_s"]
    assert parallel["energy_j"] == pytest.approx(expected, rel=0.15)


CRASHING = """
import os
import signal
import time
import pytest

@pytest.mark.parametrize("i", range(30))
def test_slow(i):
    time.sleep(0.03)

def test_zz_killed():
    os.kill(os.getpid(), signal.SIGKILL)
"""

STEADY = """
import time
import pytest

@pytest.mark.parametrize("i", range(10))
def test_steady(i):
    time.sleep(0.02)
"""


def test_a_killed_worker_loses_at_most_its_last_sampler_period(carbon_pytester: pytest.Pytester) -> None:
    # one file a worker, in order: 30 tests of 30 ms, then the worker is killed (SIGKILL, no clean-up)
    carbon_pytester.makepyfile(test_a_crashing=CRASHING, test_b_steady=STEADY)
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess(
        "-n", "2", "--dist=loadfile", "-p", "no:randomly", "--carbon", "--carbon-period=0.1",
        f"--carbon-json={path}", "--max-worker-restart=0", "--carbon-store=off",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = load_report(path)
    by_id = {t["nodeid"]: t for t in report["tests"]}
    slow = [by_id[f"test_a_crashing.py::test_slow[{i}]"] for i in range(30)]
    assert all(t["outcome"] == "passed" for t in slow)
    kept = [t["energy_j"] > 0 and t["duration_s"] > 0 for t in slow]
    # the tests without figures are the last ones: those that ended after the last sample the worker
    # sent, a period of 0.1 s (about 3 of these tests; 8 leaves room for a slow machine)
    lost = kept.count(False)
    assert kept == [True] * (30 - lost) + [False] * lost
    assert lost <= 8
    killed = by_id["test_a_crashing.py::test_zz_killed"]
    assert killed["outcome"] == "failed" and killed["energy_j"] == 0
    steady = [t for t in report["tests"] if "test_steady" in t["nodeid"]]
    assert len(steady) == 10 and all(t["energy_j"] > 0 for t in steady)
    assert report["complete"] is False
    assert any(line.startswith(f"{lost + 1} test(s) have no figures") for line in report["missing"])
    assert any("died" in line for line in report["missing"])
    session = report["session"]
    # the dead worker's own energy up to its last sample is in the session's: still conserved
    assert session["tests_energy_j"] + session["unattributed_energy_j"] == pytest.approx(session["energy_j"], rel=1e-6)
    assert session["unattributed_energy_j"] >= 0


def test_workers_take_the_controllers_region(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
import pytest
@pytest.mark.parametrize("i", range(4))
def test_a(i): pass
"""
    )
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess(
        "-n", "2", "--carbon", "--carbon-region=gcp:europe-west1", f"--carbon-json={path}"
    )
    result.assert_outcomes(passed=4)
    report = load_report(path)
    region = report["region"]
    assert region["code"] == "gcp:europe-west1"
    factor = region["intensity_g_per_kwh"] * region["pue"] / 3.6e6
    for test in report["tests"]:
        assert test["co2_g"] == pytest.approx(test["energy_j"] * factor, rel=1e-9)


BUDGETED = """
import time
import pytest

def busy(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

@pytest.mark.carbon_budget("0.5 J")
@pytest.mark.parametrize("i", range(4))
def test_heavy(i):
    busy(0.1)

@pytest.mark.carbon_budget("50 J")
@pytest.mark.parametrize("i", range(16))
def test_light(i):
    busy(0.005)

@pytest.mark.parametrize("i", range(10))
def test_free(i):
    pass
"""


def test_budgets_fail_the_right_tests_on_the_workers(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_budgeted=BUDGETED)
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess(
        "-n", "2", "--carbon", "--carbon-region=FR", f"--carbon-json={path}", "--carbon-store=off", "-rf"
    )
    result.assert_outcomes(passed=26, failed=4)
    for i in range(4):  # each heavy test fails at its own end, with its own figure
        result.stdout.fnmatch_lines([f"FAILED test_budgeted.py::test_heavy[[]{i}[]] - carbon budget exceeded: *"])
    result.stdout.no_fnmatch_line("FAILED *test_light*")
    result.stdout.no_fnmatch_line("FAILED *test_free*")
    report = load_report(path)
    by_name = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    assert {t["worker"] for t in report["tests"]} == {"gw0", "gw1"}
    for name, test in by_name.items():
        status = (test.get("budget") or {}).get("status")
        if name.startswith("test_heavy"):
            assert (test["outcome"], status) == ("failed", "exceeded")
            assert test["energy_j"] > 0.5
        elif name.startswith("test_light"):
            assert (test["outcome"], status) == ("passed", "ok")
        else:
            assert (test["outcome"], status) == ("passed", None)
