"""pytest-xdist: every test once, static power counted once, crashes keep finished figures."""

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


def test_a_crashed_worker_keeps_finished_tests(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
import os
import pytest

@pytest.mark.parametrize("i", range(6))
def test_fine(i):
    sum(range(10000))

def test_crash():
    os._exit(3)
"""
    )
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", "--carbon", f"--carbon-json={path}", "--max-worker-restart=1"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = load_report(path)
    fine = [t for t in report["tests"] if "test_fine" in t["nodeid"]]
    assert len(fine) == 6
    assert all(t["energy_j"] > 0 and t["outcome"] == "passed" for t in fine)
    crash = [t for t in report["tests"] if t["nodeid"].endswith("test_crash")]
    assert crash and crash[0]["outcome"] == "failed"
    assert any("died" in line for line in report["missing"])


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
