"""The gate end to end: budgets, baseline comparison and CI artefacts through inner pytest sessions."""

from __future__ import annotations

import csv
import json
import os

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
        carbon_pytester,
        f"--carbon-compare={base_path}",
        "--carbon-compare-fail=15%",
        "--carbon-compare-metric=energy",
        f"--carbon-json={new_path}",
    )
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "session: * (1 run, band *) -> * (+*, +*%): regression, significant*",
            "carbon gate FAILED: energy regression over 15% against *base.json",
        ]
    )
    report = json.loads(new_path.read_text(encoding="utf-8"))
    jsonschema.validate(report, schema())
    assert report["comparison"]["session"]["regressed"] is True
    assert report["comparison"]["failed"] is True
    report_only = run(carbon_pytester, f"--carbon-compare={base_path}", "--carbon-compare-metric=energy")
    assert report_only.ret == 0
    report_only.stdout.fnmatch_lines(["session: * regression, significant*"])


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
        f"--carbon-csv-tests={out / 't.csv'}",
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
    tests_table = next(t for t in rendered.split("<table>")[1:] if "<th>test</th>" in t)
    assert tests_table.split("</table>")[0].count("<tr>") == 6  # header + 5 tests
    with open(out / "c.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["experiment_id"] for r in rows] == ["session"]
    with open(out / "t.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["experiment_id"] for r in rows} == {c.name and _nodeid(c) for c in cases}
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


MARKED_SOMEWHERE = """
import pytest

pytestmark = pytest.mark.filterwarnings("default")


class TestClass:
    pytestmark = [pytest.mark.carbon_budget("500 J")]

    def test_in_class(self):
        pass


@pytest.mark.parametrize("n", [1, pytest.param(2, marks=pytest.mark.carbon_budget("400 J"))])
def test_param(n):
    pass


def test_plain():
    pass


def test_late():
    pass
"""

CHECK_MARKS_CONFTEST = """
import pytest

from pytest_carbon.marks import any_marked


def pytest_collection_modifyitems(items):
    for item in items:
        if item.name == "test_late":
            item.add_marker(pytest.mark.carbon_budget("300 J"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    for item in session.items:
        expected = item.get_closest_marker("carbon_budget") is not None
        assert any_marked([item], "carbon_budget") is expected, item.nodeid
        print("MARKED" if expected else "UNMARKED", item.nodeid)
    assert any_marked(session.items, "carbon_budget")
    assert not any_marked([i for i in session.items if "plain" in i.name], "carbon_budget")
"""


def test_marker_scan_agrees_with_get_closest_marker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CHECK_MARKS_CONFTEST)
    pytester.makepyfile(MARKED_SOMEWHERE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines_random(
        [
            "MARKED *TestClass::test_in_class",
            "UNMARKED *test_param[[]1[]]",
            "MARKED *test_param[[]2[]]",
            "UNMARKED *test_plain",
            "MARKED *test_late",
        ]
    )


GATE_MODULES = ("pytest_carbon.gate", "pytest_carbon.budget", "pytest_carbon.compare", "pytest_carbon.confirm")
REPORT_MODULES = ("pytest_carbon.reports.junit", "pytest_carbon.reports.markdown", "pytest_carbon.reports.csv")

SHOW_MODULES = """

def pytest_unconfigure(config):
    import sys

    names = {names!r}
    print("LOADED", sorted(n for n in names if n in sys.modules))
"""


def _loaded(result: pytest.RunResult) -> str:
    return next(line for line in result.stdout.lines if line.startswith("LOADED"))


def test_plain_metered_run_imports_no_gate(carbon_pytester: pytest.Pytester) -> None:
    conftest = carbon_pytester.path / "conftest.py"
    conftest.write_text(
        conftest.read_text(encoding="utf-8") + SHOW_MODULES.format(names=GATE_MODULES + REPORT_MODULES),
        encoding="utf-8",
    )
    carbon_pytester.makepyfile(UNBUDGETED)
    result = carbon_pytester.runpytest_subprocess("--carbon", "--carbon-region=FR", "-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=2)
    assert _loaded(result) == "LOADED []"
    # a marked test brings the gate, but no renderer that nobody asked for
    carbon_pytester.makepyfile(TESTS)  # in place of the unbudgeted tests
    result = carbon_pytester.runpytest_subprocess("--carbon", "--carbon-region=FR", "-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["carbon gate FAILED: 1 test(s) over their carbon budget"])
    # the confirmations (re-measuring a test over its budget within its noise) come with the gate
    assert _loaded(result) == "LOADED ['pytest_carbon.budget', 'pytest_carbon.confirm', 'pytest_carbon.gate']"


def test_job_summary_named_during_the_session_is_written(
    carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = carbon_pytester.path / "summary.md"
    carbon_pytester.makepyfile(
        f"""
        import os


        def test_sets_the_summary():
            os.environ["GITHUB_STEP_SUMMARY"] = {str(summary)!r}
        """
    )
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    try:
        result = run(carbon_pytester)
    finally:
        os.environ.pop("GITHUB_STEP_SUMMARY", None)
    result.assert_outcomes(passed=1)
    assert "<!-- pytest-carbon -->" in summary.read_text(encoding="utf-8")
