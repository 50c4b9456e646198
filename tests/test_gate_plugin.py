"""The gate end to end: budgets, baseline comparison and CI artefacts through inner pytest sessions."""

from __future__ import annotations

import csv
import json

import jsonschema
import pytest
from junitparser import Failure, JUnitXml
from markdown_it import MarkdownIt

from pytest_carbon.reports.json import schema

TESTS = """
import time

import pytest


def busy(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@pytest.mark.carbon_budget("0.5 J")
def test_heavy():
    busy(0.1)


@pytest.mark.carbon_budget("500 J")
def test_light():
    busy(0.01)


def test_plain():
    pass
"""

UNBUDGETED = """
import time


def test_a():
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass


def test_b():
    pass
"""


def _nodeid(case: object) -> str:
    element = case._elem  # type: ignore[attr-defined]
    return str(next(p.get("value") for p in element.iter("property") if p.get("name") == "nodeid"))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--carbon", "--carbon-region=FR", "-p", "no:cacheprovider", *args)


def test_marker_budget_fails_the_heavy_test_only(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(TESTS)
    json_path = carbon_pytester.path / "c.json"
    result = run(carbon_pytester, "--strict-markers", f"--carbon-json={json_path}")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*carbon budget exceeded: * J measured (estimated by fixed), budget 0.5 J (from carbon_budget marker)",
            "carbon gate FAILED: 1 test(s) over their carbon budget",
            "FAILED *::test_heavy - carbon*",
            "*= 1 failed, 2 passed in *",
        ]
    )
    report = json.loads(json_path.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema())
    by_name = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    assert by_name["test_heavy"]["budget"]["status"] == "exceeded"
    assert by_name["test_heavy"]["outcome"] == "failed"
    assert by_name["test_light"]["budget"]["status"] == "ok"
    assert by_name["test_plain"]["budget"] is None
    assert report["budget"]["tests_exceeded"] == [by_name["test_heavy"]["nodeid"]]


def test_default_budget_from_ini(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makeini("[pytest]\ncarbon_test_budget = 0.5 J\n")
    carbon_pytester.makepyfile(UNBUDGETED)
    result = run(carbon_pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["carbon budget exceeded: * (from carbon_test_budget)", "FAILED *::test_a - carbon*"])


def test_warn_mode_passes_and_reports(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(TESTS)
    result = run(carbon_pytester, "--carbon-budget-mode=warn", "--carbon-budget=1 mJ")
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["session carbon budget exceeded: * measured *budget 1 mJ*", "*mode is warn*", "*= 3 passed in *"]
    )
    result.stdout.no_fnmatch_line("carbon gate FAILED*")


def test_session_budget_exits_non_zero_with_the_final_line(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(UNBUDGETED)
    over = run(carbon_pytester, "--carbon-budget=1 mJ")
    over.assert_outcomes(passed=2)
    assert over.ret == 1
    over.stdout.fnmatch_lines(["carbon gate FAILED: session * over its budget of 1 mJ", "*= 2 passed in *"])
    assert "Traceback" not in over.stdout.str()
    under = run(carbon_pytester, "--carbon-budget=1 kWh")
    assert under.ret == 0
    under.stdout.fnmatch_lines(["session carbon budget met: *budget 1 kWh*"])


def test_co2_session_budget(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(UNBUDGETED)
    result = run(carbon_pytester, "--carbon-budget=1 ng CO2e")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["session carbon budget exceeded: * CO2e measured (*, region FR 41.44 g/kWh)*"])


def test_baseline_regression(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(UNBUDGETED)
    base_path = carbon_pytester.path / "base.json"
    first = run(carbon_pytester, f"--carbon-json={base_path}")
    assert first.ret == 0
    base = json.loads(base_path.read_text(encoding="utf-8"))
    # a baseline that used a third of the energy: this run is a regression
    base["session"]["energy_j"] /= 3
    for test in base["tests"]:
        test["energy_j"] /= 3
    base_path.write_text(json.dumps(base), encoding="utf-8")
    new_path = carbon_pytester.path / "new.json"
    result = run(
        carbon_pytester, f"--carbon-compare={base_path}", "--carbon-compare-fail=15%", f"--carbon-json={new_path}"
    )
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["session: * -> * (+*, +*%): regression", "carbon gate FAILED: energy regression over 15% against *base.json"]
    )
    report = json.loads(new_path.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema())
    assert report["comparison"]["session"]["regressed"] is True
    assert report["comparison"]["failed"] is True
    report_only = run(carbon_pytester, f"--carbon-compare={base_path}")
    assert report_only.ret == 0
    report_only.stdout.fnmatch_lines(["session: * regression"])


def test_bad_baseline_and_bad_budget_are_usage_errors(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(UNBUDGETED)
    (carbon_pytester.path / "bad.json").write_text("{oops", encoding="utf-8")
    bad = run(carbon_pytester, "--carbon-compare=bad.json")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--carbon-compare: bad.json is not JSON*"])
    potatoes = run(carbon_pytester, "--carbon-budget=5 potatoes")
    assert potatoes.ret == pytest.ExitCode.USAGE_ERROR
    potatoes.stderr.fnmatch_lines(['*--carbon-budget=5 potatoes: cannot read "5 potatoes"*for example*'])


def test_bad_marker_fails_its_test_with_an_example(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        """
import pytest

@pytest.mark.carbon_budget("5 potatoes")
def test_x():
    pass
"""
    )
    result = run(carbon_pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*test_x: carbon_budget marker: cannot read "5 potatoes"*'])


def test_ci_artefacts_and_github_summary(carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    carbon_pytester.makepyfile(
        test_nasty=TESTS.replace(
            "def test_plain():", '@pytest.mark.parametrize("s", ["<a & b>", "x|`y`", "é\\n日本"])\ndef test_plain(s):'
        )
    )
    summary = carbon_pytester.path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = carbon_pytester.path / "out"
    result = run(
        carbon_pytester,
        f"--carbon-junit={out / 'c.xml'}",
        f"--carbon-markdown={out / 'c.md'}",
        f"--carbon-csv={out / 'c.csv'}",
    )
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        ["::error file=test_nasty.py,line=*,title=carbon budget exceeded::*test_heavy: carbon*"]
    )
    cases = [case for suite in JUnitXml.fromfile(str(out / "c.xml")) for case in suite]
    assert len(cases) == 5
    heavy = next(c for c in cases if c.name == "test_heavy")
    assert any(isinstance(r, Failure) and r.type == "carbon-budget" for r in heavy.result)
    names = {c.name for c in cases}
    assert {"test_plain[<a & b>]", "test_plain[x|`y`]"} <= names
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n") and "<!-- pytest-carbon -->" in text
    rendered = MarkdownIt("commonmark").enable("table").render((out / "c.md").read_text(encoding="utf-8"))
    assert rendered.count("<tr>") == 6  # header + 5 tests
    with open(out / "c.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["experiment_id"] for r in rows][-1] == "session"
    assert {r["experiment_id"] for r in rows[:-1]} == {c.name and _nodeid(c) for c in cases}
    monkeypatch.setenv("PYTEST_CARBON_GITHUB_SUMMARY", "false")
    before = summary.read_text(encoding="utf-8")
    run(carbon_pytester)
    assert summary.read_text(encoding="utf-8") == before


def test_budgets_under_xdist(carbon_pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    carbon_pytester.makepyfile(TESTS)
    json_path = carbon_pytester.path / "c.json"
    result = carbon_pytester.runpytest_subprocess(
        "--carbon", "--carbon-region=FR", "-n", "2", "-p", "no:cacheprovider", f"--carbon-json={json_path}"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["carbon gate FAILED: 1 test(s) over their carbon budget"])
    report = json.loads(json_path.read_text(encoding="utf-8"))
    statuses = {t["nodeid"].split("::")[-1]: (t.get("budget") or {}).get("status") for t in report["tests"]}
    assert statuses == {"test_heavy": "exceeded", "test_light": "ok", "test_plain": None}
