"""Outcomes and output exactly as pytest's own: tracebacks, reruns, interruptions, crashed workers."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from conftest import load_report

from pytest_carbon.reports.json import schema

pytest.importorskip("pytest_rerunfailures")

# ---------------------------------------------------------------------------- tracebacks

FIXTURES = """
import pytest


@pytest.fixture
def broken_setup():
    raise RuntimeError("the set-up fails")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("the tear-down fails")
"""

FAILING_PHASES = """
def test_setup(broken_setup):
    pass


def test_call():
    value = 1
    assert value == 2


def test_teardown(broken_teardown):
    pass
"""


def _pytest_part(text: str) -> str:
    """The output less the plugin's own lines (header, carbon section) and the timing."""
    lines = []
    in_carbon = False
    for line in text.splitlines():
        if re.fullmatch(r"=+ carbon =+", line):
            in_carbon = True
            continue
        if in_carbon and not line.startswith("="):
            continue
        in_carbon = False
        if line.startswith("carbon: "):
            continue
        lines.append(re.sub(r" in \d+\.\d+s", " in Ts", re.sub(r" at 0x[0-9a-f]+", " at 0x?", line)))
    return "\n".join(lines)


@pytest.mark.parametrize("style", ["auto", "long", "short", "line"])
def test_tracebacks_are_the_same_with_and_without_carbon(pytester: pytest.Pytester, style: str) -> None:
    """A failing set-up (fixture in conftest.py), call and tear-down show no frame of the plugin."""
    pytester.makeconftest(FIXTURES)
    pytester.makepyfile(FAILING_PHASES)
    args = ["-p", "no:randomly", f"--tb={style}"]
    plain = pytester.runpytest(*args)
    metered = pytester.runpytest(*args, "--carbon", "--carbon-store=off", "--carbon-region=FR")
    plain.assert_outcomes(passed=1, failed=1, errors=2)
    metered.assert_outcomes(passed=1, failed=1, errors=2)
    assert "pytest_carbon" not in metered.stdout.str()
    assert _pytest_part(metered.stdout.str()) == _pytest_part(plain.stdout.str())
    assert "the set-up fails" in plain.stdout.str() and "the tear-down fails" in plain.stdout.str()


def test_tracebacks_from_an_xdist_worker_are_the_same(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FIXTURES)
    pytester.makepyfile(FAILING_PHASES)
    args = ["-p", "no:randomly", "-n", "1"]  # one worker: the sections come in the tests' order
    plain = pytester.runpytest_subprocess(*args)
    metered = pytester.runpytest_subprocess(*args, "--carbon", "--carbon-store=off", "--carbon-region=FR")
    metered.assert_outcomes(passed=1, failed=1, errors=2)
    assert "pytest_carbon" not in metered.stdout.str()
    assert _pytest_part(metered.stdout.str()) == _pytest_part(plain.stdout.str())


# ---------------------------------------------------------------------------- reruns

RERUN_TESTS = """
import pathlib

import pytest


def attempt(name):
    marker = pathlib.Path(__file__).with_name(name + ".count")
    n = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(n + 1))
    return n


def test_passes_on_its_third_attempt():
    assert attempt("third") >= 2


def test_always_fails():
    attempt("always")
    assert False


@pytest.fixture
def flaky_setup():
    if attempt("setup") == 0:
        raise RuntimeError("set-up fails once")


def test_setup_fails_once(flaky_setup):
    pass


def test_plain():
    pass
"""


def _carbon_section(result: pytest.RunResult) -> str:
    """The lines of the plugin's section of the terminal summary."""
    lines = result.stdout.str().split("= carbon =", 1)[1].splitlines()[1:]
    return "\n".join(line for line in lines if not line.startswith("="))


def _pytest_counts(result: pytest.RunResult) -> dict[str, int]:
    outcomes = result.parseoutcomes()
    return {key: value for key, value in outcomes.items() if key not in ("rerun", "reruns")}


def _report_counts(report: dict) -> dict[str, int]:
    names = {"error": "errors"}
    return {names.get(k, k): v for k, v in collections.Counter(t["outcome"] for t in report["tests"]).items()}


def _junit_testcases(path: Path, name: str) -> list[dict[str, list[str]]]:
    """The properties of each <testcase> of ``name`` in pytest's JUnit XML: name -> values."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.get("name") != name:
            continue
        props: dict[str, list[str]] = {}
        for prop in case.iter("property"):
            props.setdefault(prop.get("name", ""), []).append(prop.get("value", ""))
        cases.append(props)
    return cases


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_rerun_test_takes_its_last_attempts_outcome(carbon_pytester: pytest.Pytester, workers: list[str]) -> None:
    carbon_pytester.makepyfile(test_reruns=RERUN_TESTS)
    path = carbon_pytester.path / "carbon.json"
    junit = carbon_pytester.path / "junit.xml"
    carbon_junit = carbon_pytester.path / "carbon-junit.xml"
    result = carbon_pytester.runpytest_subprocess(
        "-p",
        "no:randomly",
        "--reruns=2",
        *workers,
        f"--junitxml={junit}",
        "--carbon",
        f"--carbon-json={path}",
        f"--carbon-junit={carbon_junit}",
        "--carbon-store=off",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes() == {"passed": 3, "failed": 1, "rerun": 5}
    report = load_report(path)
    jsonschema.validate(report, schema())
    assert _report_counts(report) == _pytest_counts(result)
    tests = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    assert len(tests) == len(report["tests"]) == 4  # one entry a test, whatever its attempts
    assert tests["test_passes_on_its_third_attempt"]["outcome"] == "passed"
    assert tests["test_passes_on_its_third_attempt"]["attempts"] == 3
    assert tests["test_always_fails"]["outcome"] == "failed"
    assert tests["test_always_fails"]["attempts"] == 3
    assert tests["test_setup_fails_once"]["outcome"] == "passed"
    assert tests["test_setup_fails_once"]["attempts"] == 2
    assert "attempts" not in tests["test_plain"]
    assert not re.search(r"\brerun\b", _carbon_section(result))

    # pytest's JUnit XML: one <testcase> an attempt, each with that attempt's figures alone
    cases = _junit_testcases(junit, "test_passes_on_its_third_attempt")
    assert len(cases) == 3
    assert all(len(case["energy_j"]) == 1 and len(case["co2_g"]) == 1 for case in cases)
    attempts_j = [float(case["energy_j"][0]) for case in cases]
    assert all(energy_j > 0 for energy_j in attempts_j)
    # the report's figure is the sum of the attempts
    entry = tests["test_passes_on_its_third_attempt"]
    assert sum(attempts_j) == pytest.approx(entry["energy_j"], rel=1e-4)
    assert sum(float(c["co2_g"][0]) for c in cases) == pytest.approx(entry["co2_g"], rel=1e-4)
    (plain_case,) = _junit_testcases(junit, "test_plain")
    assert float(plain_case["energy_j"][0]) == pytest.approx(tests["test_plain"]["energy_j"], rel=1e-5)

    # the plugin's own JUnit XML: one testcase a test, its attempts as a property
    (own,) = _junit_testcases(carbon_junit, "test_passes_on_its_third_attempt")
    assert own["attempts"] == ["3"]
    assert float(own["energy_j"][0]) == pytest.approx(entry["energy_j"], rel=1e-5)
    (own_plain,) = _junit_testcases(carbon_junit, "test_plain")
    assert "attempts" not in own_plain


# ---------------------------------------------------------------------------- interruptions

INTERRUPTED_SERIAL = """
import os
import signal
import time

import pytest


@pytest.mark.parametrize("n", range(12))
def test_s(n):
    if n == 7:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
"""

EXIT_IN_SETUP = """
import pytest


@pytest.fixture
def stops():
    pytest.exit("stop here")


def test_first():
    pass


def test_second(stops):
    pass


def test_third():
    pass
"""


def test_ctrl_c_leaves_the_running_test_interrupted(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(INTERRUPTED_SERIAL)
    path = carbon_pytester.path / "carbon.json"
    junit = carbon_pytester.path / "carbon-junit.xml"
    result = carbon_pytester.runpytest_subprocess(
        "-p", "no:randomly", "--carbon", f"--carbon-json={path}", f"--carbon-junit={junit}"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(passed=7)
    (case,) = [c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == "test_s[7]"]
    (skipped,) = case.iter("skipped")
    assert "interrupted" in skipped.get("message", "")
    report = load_report(path)
    jsonschema.validate(report, schema())
    assert report["complete"] is False
    outcomes = {t["nodeid"]: t["outcome"] for t in report["tests"]}
    assert outcomes.pop("test_ctrl_c_leaves_the_running_test_interrupted.py::test_s[7]") == "interrupted"
    assert list(outcomes.values()) == ["passed"] * 7
    assert _report_counts(report) == {**_pytest_counts(result), "interrupted": 1}


def test_pytest_exit_in_a_set_up_leaves_the_test_interrupted(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(EXIT_IN_SETUP)
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest("-p", "no:randomly", "--carbon", f"--carbon-json={path}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(passed=1)
    report = load_report(path)
    jsonschema.validate(report, schema())
    assert [(t["nodeid"].split("::")[-1], t["outcome"]) for t in report["tests"]] == [
        ("test_first", "passed"),
        ("test_second", "interrupted"),
    ]


INTERRUPTED_XDIST = """
import os
import signal
import time

import pytest


@pytest.mark.parametrize("n", range(60))
def test_s(n):
    time.sleep(0.02)
    if n == 40:
        time.sleep(0.5)  # the controller has this test's set-up report by now
        os.killpg(os.getpgid(0), signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        time.sleep(5)
"""


def test_ctrl_c_under_xdist_counts_as_pytest_does(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(INTERRUPTED_XDIST)
    path = carbon_pytester.path / "carbon.json"
    carbon = ["--carbon", f"--carbon-json={path}", "--carbon-store=off"]
    # a session of its own: the interrupt must reach the inner run's processes alone
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-n", "2", *carbon],
        cwd=carbon_pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, proc.stdout + proc.stderr
    (passed,) = re.findall(r"(\d+) passed", proc.stdout.splitlines()[-1])
    report = load_report(path)
    jsonschema.validate(report, schema())
    assert report["complete"] is False
    counts = collections.Counter(t["outcome"] for t in report["tests"])
    assert counts["passed"] == int(passed)
    assert counts["interrupted"] >= 1
    assert set(counts) <= {"passed", "interrupted"}


# ---------------------------------------------------------------------------- crashed workers

CRASHING = """
import os

import pytest


@pytest.mark.parametrize("i", range(6))
def test_fine(i):
    sum(range(10000))


def test_exits():
    os._exit(3)


def test_killed():
    os.kill(os.getpid(), 9)
"""


def test_a_restarted_worker_makes_the_report_incomplete(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_crashing=CRASHING)
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:randomly", "--carbon", f"--carbon-json={path}", "--carbon-store=off"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=6, failed=2)
    report = load_report(path)
    jsonschema.validate(report, schema())
    assert report["complete"] is False
    assert _report_counts(report) == _pytest_counts(result)
    died = [line for line in report["missing"] if line.startswith("worker ")]
    assert len(died) == 2
    assert any("test_crashing.py::test_exits" in line for line in died)
    assert any("test_crashing.py::test_killed" in line for line in died)
    assert {t["nodeid"] for t in report["tests"] if t["outcome"] == "failed"} == {
        "test_crashing.py::test_exits",
        "test_crashing.py::test_killed",
    }


# ---------------------------------------------------------------------------- history

FAILURES_AND_ERRORS = """
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("set-up fails")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("tear-down fails")


@pytest.mark.parametrize("i", range(4))
def test_fails(i):
    assert False


def test_setup_error(broken):
    pass


def test_teardown_error(broken_teardown):
    pass


def test_passes():
    pass
"""


def test_history_counts_errors_apart_from_failures(
    carbon_pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_carbon.cli import main

    carbon_pytester.makepyfile(FAILURES_AND_ERRORS)
    store = carbon_pytester.path / "h.sqlite"
    result = carbon_pytester.runpytest("--carbon", f"--carbon-store={store}")
    result.assert_outcomes(passed=2, failed=4, errors=2)  # the tear-down error's test passed its call
    capsys.readouterr()
    assert main(["history", "--store", str(store)]) == 0
    (line,) = capsys.readouterr().out.splitlines()[1:]
    assert re.search(r"\b7 tests +4 failed +2 errors\b", line), line
    assert main(["history", "--store", str(store), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert (run["test_count"], run["failed_count"], run["error_count"]) == (7, 4, 2)


# ---------------------------------------------------------------------------- pytest-timeout

SLOW = """
import time


def test_quick():
    pass


def test_slow():
    time.sleep(30)
"""


def test_timeout_thread_method_ends_as_without_carbon_and_names_the_sampler(
    carbon_pytester: pytest.Pytester,
) -> None:
    """pytest-timeout's thread method ends the process at once: no report, pytest's exit code kept."""
    pytest.importorskip("pytest_timeout")
    carbon_pytester.makepyfile(SLOW)
    args = ("-p", "no:randomly", "--timeout=1", "--timeout-method=thread")
    plain = carbon_pytester.runpytest_subprocess(*args)
    path = carbon_pytester.path / "carbon.json"
    metered = carbon_pytester.runpytest_subprocess(*args, "--carbon", f"--carbon-json={path}", "--carbon-store=off")
    assert metered.ret == plain.ret != 0
    assert not path.exists()  # documented: use the signal method, or xdist, to keep the report
    dump = metered.stdout.str() + metered.stderr.str()
    assert "Stack of pytest-carbon-sampler" in dump


def test_timeout_signal_method_keeps_the_report(carbon_pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_timeout")
    carbon_pytester.makepyfile(SLOW)
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest_subprocess(
        "-p", "no:randomly", "--timeout=1", "--timeout-method=signal", "--carbon", f"--carbon-json={path}"
    )
    result.assert_outcomes(passed=1, failed=1)
    report = load_report(path)
    assert report["complete"] is True
    assert {t["nodeid"].split("::")[-1]: t["outcome"] for t in report["tests"]} == {
        "test_quick": "passed",
        "test_slow": "failed",
    }
