"""--carbon-compare=last: the baseline is the last stored run of the same project and branch."""

from __future__ import annotations

import pytest
from conftest import load_report


def test_compare_last_uses_the_previous_stored_run(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
import time
def test_a():
    time.sleep(0.05)
"""
    )
    first = carbon_pytester.path / "first.json"
    second = carbon_pytester.path / "second.json"
    result = carbon_pytester.runpytest("--carbon", f"--carbon-json={first}", "--carbon-compare=last")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*--carbon-compare=last: no stored run of * yet: no comparison*"])
    assert "comparison" not in load_report(first)

    result = carbon_pytester.runpytest(
        "--carbon", f"--carbon-json={second}", "--carbon-compare=last", "--carbon-compare-metric=energy"
    )
    result.assert_outcomes(passed=1)
    report = load_report(second)
    comparison = report["comparison"]
    baseline = load_report(first)
    assert comparison["base_run"]["id"] == baseline["run"]["id"]
    assert comparison["session"]["base"] == pytest.approx(baseline["session"]["energy_j"], rel=1e-6)


def test_compare_last_with_the_store_off_says_so(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile("def test_a(): pass")
    result = carbon_pytester.runpytest("--carbon", "--carbon-store=off", "--carbon-compare=last")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--carbon-compare=last needs the history store, which is off*"])
