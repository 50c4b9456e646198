"""The plugin end to end through inner pytest sessions (pytester)."""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import load_report

from pytest_carbon.reports.json import schema

BUSY = """
import time


def busy(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
"""


def run_json(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    path = pytester.path / "carbon.json"
    result = pytester.runpytest("--carbon", f"--carbon-json={path}", "--carbon-region=FR", *args)
    return result, load_report(path)


def test_report_is_valid_and_conserves_energy(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        BUSY
        + """
import pytest

@pytest.mark.parametrize("i", range(20))
def test_work(i):
    busy(0.002)

def test_sleep():
    time.sleep(0.05)
"""
    )
    result, report = run_json(carbon_pytester, "--carbon-period=0.02")
    result.assert_outcomes(passed=21)
    jsonschema.validate(report, schema())
    session = report["session"]
    total_tests = sum(t["energy_j"] for t in report["tests"])
    assert session["energy_j"] > 0
    assert total_tests + session["unattributed_energy_j"] == pytest.approx(session["energy_j"], rel=1e-3)
    assert session["tests_energy_j"] == pytest.approx(total_tests, rel=1e-9)
    assert session["unattributed_energy_j"] >= 0
    assert len(report["tests"]) == 21
    assert report["complete"] is True
    assert report["machine"]["probes"][0]["name"] == "fixed"
    region = report["region"]
    factor = region["pue"] * region["intensity_g_per_kwh"] / 3.6e6
    assert session["co2_g"] == pytest.approx(session["energy_j"] * factor, rel=1e-9)
    for test in report["tests"]:
        assert test["co2_g"] == pytest.approx(test["energy_j"] * factor, rel=1e-9)
    result.stdout.fnmatch_lines(
        ["*= carbon =*", "carbon: * CO2e, * over * s, 21 tests", "*top 10 of 21 tests by dynamic energy (above idle):*"]
    )


def test_dynamic_energy_resolves_sub_millisecond_tests(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        BUSY
        + """
import pytest

@pytest.mark.parametrize("i", range(40))
def test_half(i):
    busy(0.0005)

@pytest.mark.parametrize("i", range(40))
def test_one(i):
    busy(0.001)
"""
    )
    # a process of its own: the outer session's heap would lengthen the inner garbage collections
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess("--carbon", f"--carbon-json={path}", "-p", "no:randomly")
    result.assert_outcomes(passed=80)
    report = load_report(path)
    half = statistics.mean(t["dynamic_energy_j"] for t in report["tests"] if "test_half" in t["nodeid"])
    one = statistics.mean(t["dynamic_energy_j"] for t in report["tests"] if "test_one" in t["nodeid"])
    assert 1.6 <= one / half <= 2.4, (half, one)


def test_cpu_of_waited_children_counts_in_the_test_that_waited(carbon_pytester: pytest.Pytester) -> None:
    """A subprocess's CPU time is the test's: waited for in set-up, call or tear-down (first test too)."""
    carbon_pytester.makepyfile(
        """
import subprocess, sys, time
import pytest

BURN = "import time\\nend = time.process_time() + 0.2\\nwhile time.process_time() < end: pass"

def burn():
    subprocess.run([sys.executable, "-c", BURN], check=True)

@pytest.fixture
def in_setup():
    burn()

@pytest.fixture
def in_teardown():
    yield
    burn()

def test_first_in_call():
    burn()

def test_idle():
    time.sleep(0.05)

def test_in_setup(in_setup):
    pass

def test_in_teardown(in_teardown):
    pass

def test_in_call():
    burn()
"""
    )
    result, report = run_json(carbon_pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=5)
    cpu = {t["nodeid"].split("::")[1]: t["cpu_time_s"] for t in report["tests"]}
    for name in ("test_first_in_call", "test_in_setup", "test_in_teardown", "test_in_call"):
        assert cpu[name] >= 0.18, cpu
    assert cpu["test_idle"] < 0.05, cpu


def test_sleep_costs_static_energy_only(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        BUSY
        + """
def test_sleep():
    time.sleep(0.05)

def test_compute():
    busy(0.05)
"""
    )
    result, report = run_json(carbon_pytester)
    result.assert_outcomes(passed=2)
    tests = {t["nodeid"].split("::")[1]: t for t in report["tests"]}
    sleep, compute = tests["test_sleep"], tests["test_compute"]
    assert sleep["dynamic_energy_j"] < 0.05 * compute["dynamic_energy_j"]
    assert sleep["energy_j"] < compute["energy_j"]
    assert sleep["duration_s"] >= 0.05


def test_outcomes_of_every_kind(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
import pytest

@pytest.fixture
def broken_setup():
    raise RuntimeError("set-up fails")

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("tear-down fails")

def test_pass(): pass
def test_fail(): assert False
@pytest.mark.skip(reason="no")
def test_skip(): pass
@pytest.mark.xfail(reason="known", strict=False)
def test_xfail(): assert False
@pytest.mark.xfail(reason="known", strict=False)
def test_xpass(): pass
def test_setup_error(broken_setup): pass
def test_teardown_error(broken_teardown): pass
def test_subtests(subtests):
    for i in range(3):
        with subtests.test(i=i):
            assert i != 1
"""
    )
    result, report = run_json(carbon_pytester)
    outcomes = {t["nodeid"].split("::")[1]: t["outcome"] for t in report["tests"]}
    assert outcomes == {
        "test_pass": "passed",
        "test_fail": "failed",
        "test_skip": "skipped",
        "test_xfail": "xfailed",
        "test_xpass": "xpassed",
        "test_setup_error": "error",
        "test_teardown_error": "error",
        "test_subtests": "failed",
    }
    sub = next(t for t in report["tests"] if t["nodeid"].endswith("test_subtests"))
    assert sub["subtests"] == {"count": 3, "failed": 1}
    assert all(t["duration_s"] > 0 for t in report["tests"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


FLAKY_CONFTEST = """
import pytest
from pytest_carbon.probes.base import ComponentEnergy, Probe, ProbeError

class Flaky(Probe):
    name = "flaky"
    components = ("cpu",)
    measured = True
    reads = 0
    def read(self, load):
        Flaky.reads += 1
        if Flaky.reads > 2:
            raise ProbeError("the counter went away")
        return [ComponentEnergy("cpu", 5.0 * load.duration_s, 0.0, True, self.name)]

@pytest.hookimpl(optionalhook=True)
def pytest_carbon_probes(config):
    return [Flaky()]
"""

SLOW_TESTS = """
import time
import pytest
@pytest.mark.parametrize("i", range(10))
def test_slow(i):
    time.sleep(0.02)
"""


def test_a_failing_counter_is_replaced_by_the_model(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FLAKY_CONFTEST)
    pytester.makepyfile(SLOW_TESTS)
    result, report = run_json(pytester, "--carbon-period=0.01")
    assert result.ret == 0
    result.assert_outcomes(passed=10)
    assert result.stdout.str().count("the counter went away") == 1
    (line,) = [m for m in report["missing"] if "flaky" in m]
    assert "estimated by the model probe" in line
    probes = {p["name"]: p for p in report["machine"]["probes"]}
    assert probes["flaky"]["error"] == "the counter went away"
    assert probes["model"]["components"] == ["cpu"]
    assert probes["model"]["measured"] is False
    # the later tests ran after the failure and are still charged for the CPU
    assert report["tests"][-1]["components_j"]["cpu"] > 0


def test_a_failing_counter_without_fallback_leaves_figures_missing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FLAKY_CONFTEST)
    pytester.makepyfile(SLOW_TESTS)
    result, report = run_json(pytester, "--carbon-period=0.01", "--carbon-probe=none")
    assert result.ret == 0
    result.assert_outcomes(passed=10)
    assert result.stdout.str().count("the counter went away") == 1
    assert any("flaky" in m and "missing" in m for m in report["missing"])
    assert report["machine"]["probes"][0]["error"] == "the counter went away"


def test_stopped_sessions_still_write_an_incomplete_report(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
def test_a(): assert False
def test_b(): pass
"""
    )
    result, report = run_json(carbon_pytester, "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert report["complete"] is False
    assert [t["nodeid"].split("::")[1] for t in report["tests"]] == ["test_a"]


def test_keyboard_interrupt_still_writes_the_report(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
def test_a(): pass
def test_b(): raise KeyboardInterrupt
def test_c(): pass
"""
    )
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess("--carbon", f"--carbon-json={path}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = load_report(path)
    assert report["complete"] is False
    assert [t["nodeid"].split("::")[1] for t in report["tests"]][:1] == ["test_a"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--carbon-scope=banana"], "*--carbon-scope=banana: expected one of: process, machine*"),
        (["--carbon-period=-1"], "*--carbon-period=-1: expected a number of seconds from 0.01 to 60*"),
        (["--carbon-top=many"], "*--carbon-top=many: expected a whole number*"),
        (["--carbon-json=afile.txt/report.json"], "*--carbon-json=afile.txt/report.json:*afile.txt*"),
    ],
)
def test_bad_options_are_usage_errors_before_any_test(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makefile(".txt", afile="not a folder")
    pytester.makepyfile("def test_a(): raise SystemExit('must not run')")
    result = pytester.runpytest("--carbon", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "must not run" not in result.stdout.str()


def test_bad_ini_and_environment_values_name_their_origin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\ncarbon = true\ncarbon_scope = sideways\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*carbon_scope = sideways (ini file): expected one of: process, machine*"])
    pytester.makeini("[pytest]\ncarbon = true\n")
    monkeypatch.setenv("PYTEST_CARBON_PERIOD", "0")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(["*PYTEST_CARBON_PERIOD=0: expected a number of seconds*"])


def test_command_line_beats_ini_beats_environment(
    carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    carbon_pytester.makeini("[pytest]\ncarbon_scope = machine\n")
    carbon_pytester.makepyfile("def test_a(): pass")
    monkeypatch.setenv("PYTEST_CARBON_SCOPE", "process")
    monkeypatch.setenv("PYTEST_CARBON", "1")
    path = carbon_pytester.path / "r.json"
    carbon_pytester.runpytest(f"--carbon-json={path}")
    assert load_report(path)["scope"] == "machine"
    carbon_pytester.runpytest(f"--carbon-json={path}", "--carbon-scope=process")
    assert load_report(path)["scope"] == "process"


def test_off_by_default_starts_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import sys, threading
def test_nothing_running():
    assert not [t for t in threading.enumerate() if t.name.startswith("pytest-carbon")]
    heavy = {"psutil", "requests", "pytest_carbon.meter", "pytest_carbon.session", "pynvml"}
    assert not heavy & set(sys.modules), heavy & set(sys.modules)
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert not [line for line in result.stdout.lines if line.startswith("carbon") or "= carbon =" in line]


def test_plugin_can_be_disabled_and_coexists_with_strict_options(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
import pytest
@pytest.mark.carbon_budget("5 J")
def test_a(): pass
"""
    )
    result = carbon_pytester.runpytest("-p", "no:carbon")
    result.assert_outcomes(passed=1)
    result = carbon_pytester.runpytest_subprocess("--carbon", "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=1)
    assert "warning" not in result.stdout.str().lower()


def test_junitxml_testcases_carry_energy_properties(carbon_pytester: pytest.Pytester) -> None:
    import xml.etree.ElementTree as ET

    carbon_pytester.makepyfile(
        """
import pytest
@pytest.mark.parametrize("x", ["a", "b"])
def test_a(x): pass
"""
    )
    xml = carbon_pytester.path / "junit.xml"
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest(
        "--carbon", f"--carbon-json={path}", f"--junitxml={xml}", "-o", "junit_family=xunit2", "-W", "error"
    )
    result.assert_outcomes(passed=2)
    report = load_report(path)
    cases = ET.parse(xml).getroot().iter("testcase")
    for case, test in zip(cases, report["tests"], strict=True):
        props = {p.get("name"): float(p.get("value")) for p in case.iter("property")}
        assert props["energy_j"] == pytest.approx(test["energy_j"], rel=1e-3)
        assert props["co2_g"] == pytest.approx(test["co2_g"], rel=1e-3)
    assert "warning" not in result.stdout.str().lower()


def test_quiet_prints_one_line(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile("def test_a(): pass")
    result = carbon_pytester.runpytest("--carbon", "-q")
    lines = [line for line in result.stdout.lines if "carbon" in line]
    assert len(lines) == 1, lines
    result = carbon_pytester.runpytest("--carbon", "-v")
    result.stdout.fnmatch_lines(["*dyn * [cpu *, ram *, gpu *]*"])


def test_import_of_the_plugin_is_light() -> None:
    import subprocess

    code = (
        "import sys, pytest_carbon.plugin;"
        "bad = {'psutil', 'requests', 'pytest_carbon.meter', 'pynvml', 'sqlite3', 'psycopg'} & set(sys.modules);"
        "print(sorted(bad)); raise SystemExit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_ships_in_the_package() -> None:
    import pytest_carbon

    assert (Path(pytest_carbon.__file__).parent / "report.schema.json").is_file()
    assert schema()["properties"]["schema_version"]["const"] == 1


def test_help_lists_every_option_with_its_twins(pytester: pytest.Pytester) -> None:
    from pytest_carbon.config import OPTIONS

    result = pytester.runpytest("--help")
    assert result.ret == 0
    out = result.stdout.str()
    for option in OPTIONS:
        assert option.flag in out
        assert option.env in out


@pytest.mark.parametrize(
    "report",
    [
        {"schema_version": 1, "tests": []},
        {"tests": [{"nodeid": "a", "x": 1.5}]},
        {"schema_version": 1, "run": {"id": "x"}, "tests": [{"nodeid": 't"<é>\n', "e": 1e-9}, {"nodeid": "b"}]},
        {"schema_version": 1},
    ],
)
def test_json_text_round_trips(report: dict) -> None:
    import json

    from pytest_carbon.reports.json import dumps

    text = dumps(report)
    assert json.loads(text) == report
    assert list(json.loads(text)) == list(report)


def test_json_report_is_readable_by_others(carbon_pytester: pytest.Pytester) -> None:
    import os
    import stat

    carbon_pytester.makepyfile("def test_a(): pass")
    path = carbon_pytester.path / "carbon.json"
    old = os.umask(0o022)
    try:
        carbon_pytester.runpytest("--carbon", f"--carbon-json={path}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


COUNT_OBJECTS_CONFTEST = """
import gc

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session):
    result = yield
    gc.collect()
    print(f"OBJECTS {len(gc.get_objects())}")
    return result
"""


def test_a_metered_run_keeps_no_object_a_test(pytester: pytest.Pytester) -> None:
    """What is known of each test is kept by column: a long session gives the collector nothing more a test."""
    pytester.makeconftest(COUNT_OBJECTS_CONFTEST)

    def added_objects(tests: int) -> int:
        """Objects alive after the tests, metered run less plain run."""
        pytester.makepyfile("\n".join(f"def test_{i}(): pass" for i in range(tests)))
        counts = []
        for metered in ([], ["--carbon", "--carbon-region=FR", "--carbon-store=off"]):
            result = pytester.runpytest_subprocess("-s", "-p", "no:randomly", "-p", "no:cacheprovider", *metered)
            assert result.ret == 0
            (count,) = re.findall(r"OBJECTS (\d+)", result.stdout.str())
            counts.append(int(count))
        return counts[1] - counts[0]

    # the plugin's own objects (modules, probes, meter) are the same whatever the number of tests
    per_test = (added_objects(500) - added_objects(100)) / 400
    assert per_test < 0.5
