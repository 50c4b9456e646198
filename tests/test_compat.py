"""Beside the plugins teams use, a run with --carbon ends exactly as it does without.

A small mixed suite uses pytest-cov, pytest-randomly, pytest-rerunfailures, pytest-repeat,
pytest-timeout, pytest-asyncio, pytest-mock, pytest-benchmark, Hypothesis, pytest-xdist, pytest's
subtests and doctests, all at once, serially and under xdist. Each run is made twice, with and
without --carbon: the outcomes, the exit code and the warnings must be the same, and the report
must hold one schema-valid entry for each collected test.

The plugins are not in the project's test extra (loaded into every inner session of the other
tests, they would change them): ``tests/compat/requirements.txt`` lists them, and .ci/run installs
them in a virtual environment of their own and runs this module there with
PYTEST_CARBON_REQUIRE_COMPAT=1, which turns the skip for a missing plugin into a failure.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from conftest import load_report

from pytest_carbon.reports.json import schema

PLUGINS = (
    "pytest_cov",
    "pytest_randomly",
    "pytest_rerunfailures",
    "pytest_repeat",
    "pytest_timeout",
    "pytest_asyncio",
    "pytest_mock",
    "pytest_benchmark",
    "hypothesis",
    "xdist",
)
MISSING = [name for name in PLUGINS if importlib.util.find_spec(name) is None]


@pytest.fixture(autouse=True)
def _plugins_installed() -> None:
    if not MISSING:
        return
    why = (
        f"the compatibility plugins are not installed ({', '.join(MISSING)}): "
        "pip install -r tests/compat/requirements.txt in a virtual environment of their own"
    )
    if os.environ.get("PYTEST_CARBON_REQUIRE_COMPAT") == "1":
        pytest.fail(why)
    pytest.skip(why)


MODULE = '''
"""A module measured by pytest-cov, with a doctest.

>>> add(2, 3)
5
"""


def add(a, b):
    return a + b
'''

SUITE = """
import asyncio
import pathlib
import time

import pytest
from hypothesis import given, settings, strategies as st

import calc


def test_plain():
    assert calc.add(1, 1) == 2


def test_fails():
    assert calc.add(1, 1) == 3


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known")
def test_xfails():
    assert False


@pytest.mark.xfail(reason="fixed already")
def test_xpasses():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("set-up fails")


def test_setup_error(broken):
    pass


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("tear-down fails")


def test_teardown_error(broken_teardown):
    pass


@pytest.mark.asyncio
async def test_async():
    await asyncio.sleep(0.001)


def test_mocker(mocker):
    patched = mocker.patch("calc.add", return_value=7)
    assert calc.add(1, 2) == 7
    patched.assert_called_once_with(1, 2)


def test_benchmark(benchmark):
    assert benchmark.pedantic(calc.add, args=(1, 2), rounds=3, iterations=1) == 3


@settings(max_examples=20, deadline=None)
@given(st.integers(), st.integers())
def test_hypothesis(a, b):
    assert calc.add(a, b) == calc.add(b, a)


def attempt(name):
    marker = pathlib.Path(__file__).with_name(name + ".count")
    n = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(n + 1))
    return n


@pytest.mark.flaky(reruns=2)
def test_passes_on_rerun():
    assert attempt("rerun") >= 1


@pytest.mark.flaky(reruns=1)
def test_fails_every_attempt():
    assert False


@pytest.mark.repeat(3)
def test_repeated():
    pass


@pytest.mark.timeout(60)
def test_with_timeout():
    time.sleep(0.01)


def test_subtests(subtests):
    for i in range(3):
        with subtests.test(i=i):
            assert i != 1
"""

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
"""

COMMON = (
    "-p",
    "no:cacheprovider",
    "-p",
    "randomly",
    "--randomly-seed=1234",
    "--doctest-modules",
    "--cov=calc",
    "--cov-report=",
    "--timeout=120",
    "--timeout-method=signal",
)


def _testcases(path: Path) -> collections.Counter[tuple[str, str, str]]:
    """Each <testcase> of pytest's JUnit XML as (class, name, outcome), counted."""
    cases: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        cases[(case.get("classname", ""), case.get("name", ""), ",".join(kinds) or "passed")] += 1
    return cases


def _warnings_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "warnings summary" in line), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("====", "----"))), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_outcomes_exit_codes_and_warnings_are_pytests_own(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(calc=MODULE, test_mixed=SUITE)
    collected = pytester.runpytest_subprocess(*COMMON, "--collect-only", "-q")
    nodeids = [line for line in collected.stdout.lines if "::" in line and " " not in line]
    assert len(nodeids) == 19  # 16 test functions, the repeated one three times, and the doctest

    results = {}
    for metered in (False, True):
        for counter in pytester.path.glob("*.count"):
            counter.unlink()
        junit = pytester.path / f"junit-{metered}.xml"
        carbon = ["--carbon", "--carbon-json=carbon.json", "--carbon-store=off", "--carbon-region=FR"]
        result = pytester.runpytest_subprocess(*COMMON, *workers, f"--junitxml={junit}", *(carbon if metered else []))
        results[metered] = (result, _testcases(junit))

    (plain, plain_cases), (with_carbon, carbon_cases) = results[False], results[True]
    assert with_carbon.ret == plain.ret == pytest.ExitCode.TESTS_FAILED
    assert with_carbon.parseoutcomes() == plain.parseoutcomes()
    assert plain.parseoutcomes()["rerun"] == 2
    assert carbon_cases == plain_cases
    assert _warnings_section(with_carbon.stdout.str()) == _warnings_section(plain.stdout.str())
    assert with_carbon.stderr.lines == plain.stderr.lines
    assert "pytest_carbon" not in with_carbon.stdout.str()

    report = load_report(pytester.path / "carbon.json")
    jsonschema.validate(report, schema())
    assert sorted(t["nodeid"] for t in report["tests"]) == sorted(nodeids)
    assert report["complete"] is True
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in report["tests"]}
    assert outcomes["test_passes_on_rerun"] == "passed"
    assert outcomes["test_fails_every_attempt"] == "failed"
    assert outcomes["test_subtests"] == "failed"
    (subtests,) = [t["subtests"] for t in report["tests"] if t["nodeid"].endswith("::test_subtests")]
    assert subtests == {"count": 3, "failed": 1}
    assert outcomes["test_setup_error"] == outcomes["test_teardown_error"] == "error"
    assert (outcomes["test_xfails"], outcomes["test_xpasses"]) == ("xfailed", "xpassed")
    assert all(t["energy_j"] > 0 for t in report["tests"] if t["outcome"] != "skipped")
