"""The end-of-run pipeline: what a conftest's ``pytest_carbon_report`` changes reaches every artefact.

Each test runs a real inner session whose conftest implements the hook, then reads the artefact
back with its own parser (json, ElementTree, csv, the SQLite history). The hook adds a line to
``report["missing"]``, a key of its own (``team``), and changes two facts the fixed-column formats
hold: the machine's host name (anonymised, as a CI job might) and the project's name.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest import load_report

MISSING = "GPU energy: not metered on this runner (said by the conftest)"
TEAM = {"name": "energy-team", "ticket": "CARBON-13"}
HOST = "anonymised-host"
PROJECT = "renamed-by-conftest"

HOOK = f"""

def pytest_carbon_report(config, report):
    report["missing"].append({MISSING!r})
    report["team"] = {TEAM!r}
    report["machine"]["hostname"] = {HOST!r}
    report["run"]["project"] = {PROJECT!r}
"""

TESTS = """
def test_one():
    sum(range(1000))

def test_two():
    sum(range(2000))
"""


@pytest.fixture
def suite(carbon_pytester: pytest.Pytester) -> pytest.Pytester:
    conftest = carbon_pytester.path / "conftest.py"
    conftest.write_text(conftest.read_text(encoding="utf-8") + HOOK, encoding="utf-8")
    carbon_pytester.makepyfile(test_suite=TESTS)
    return carbon_pytester


def run(suite: pytest.Pytester, *args: str, tests: int = 2) -> pytest.RunResult:
    result = suite.runpytest("--carbon", "--carbon-region=FR", "--carbon-store=off", "-p", "no:randomly", *args)
    result.assert_outcomes(passed=tests)
    assert result.ret == 0, result.stdout.str()
    return result


def test_json_holds_the_hooks_additions(suite: pytest.Pytester) -> None:
    run(suite, "--carbon-json=r.json")
    report = load_report(suite.path / "r.json")
    assert MISSING in report["missing"]
    assert report["team"] == TEAM
    assert report["machine"]["hostname"] == HOST
    assert report["run"]["project"] == PROJECT


def test_markdown_holds_the_missing_line(suite: pytest.Pytester) -> None:
    run(suite, "--carbon-markdown=r.md")
    text = (suite.path / "r.md").read_text(encoding="utf-8")
    assert f"- **Missing**: {MISSING}" in text.splitlines()


def test_junit_holds_the_changed_host(suite: pytest.Pytester) -> None:
    # JUnit holds a fixed set of facts (no ``missing``, no key of one's own): the host name is one
    run(suite, "--carbon-junit=r.xml")
    root = ET.parse(suite.path / "r.xml").getroot()
    (testsuite,) = root.iter("testsuite")
    assert testsuite.get("hostname") == HOST
    assert len(list(testsuite.iter("testcase"))) == 2


def test_csv_holds_the_changed_project(suite: pytest.Pytester) -> None:
    # CSV has CodeCarbon's columns: of the hook's changes it holds the project's name, in every row
    run(suite, "--carbon-csv=runs.csv", "--carbon-csv-tests=tests.csv")
    with open(suite.path / "runs.csv", encoding="utf-8", newline="") as fh:
        (session_row,) = list(csv.DictReader(fh))
    assert session_row["project_name"] == PROJECT
    assert session_row["experiment_id"] == "session"
    with open(suite.path / "tests.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["project_name"] for r in rows] == [PROJECT, PROJECT]
    assert sorted(r["experiment_id"] for r in rows) == ["test_suite.py::test_one", "test_suite.py::test_two"]


def test_html_holds_the_missing_line(suite: pytest.Pytester) -> None:
    run(suite, "--carbon-html=r.html")
    text = (suite.path / "r.html").read_text(encoding="utf-8")
    assert f"<li>{MISSING}</li>" in text


def test_job_summary_holds_the_missing_line(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = suite.path / "step-summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(suite)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")  # appended to, never replaced
    assert f"- **Missing**: {MISSING}" in text.splitlines()


def test_the_stored_run_holds_the_hooks_additions(suite: pytest.Pytester) -> None:
    history = suite.path / "h.sqlite"
    result = suite.runpytest("--carbon", "--carbon-region=FR", f"--carbon-store={history}", "--carbon-json=r.json")
    result.assert_outcomes(passed=2)
    run_id = load_report(suite.path / "r.json")["run"]["id"]
    with sqlite3.connect(history) as db:
        project, head = db.execute("SELECT project, report FROM runs WHERE id = ?", (run_id,)).fetchone()
    stored: dict[str, Any] = json.loads(head)
    assert project == PROJECT
    assert MISSING in stored["missing"]
    assert stored["team"] == TEAM
    assert stored["machine"]["hostname"] == HOST


def test_under_xdist_json_and_markdown_hold_the_hooks_additions(suite: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = suite.runpytest_subprocess(
        "-n",
        "2",
        "--carbon",
        "--carbon-region=FR",
        "--carbon-store=off",
        "--carbon-json=r.json",
        "--carbon-markdown=r.md",
    )
    result.assert_outcomes(passed=2)
    report = load_report(suite.path / "r.json")
    assert report["missing"].count(MISSING) == 1  # the hook ran once, on the controller
    assert report["team"] == TEAM
    assert report["run"]["workers"] == 2
    text = (suite.path / "r.md").read_text(encoding="utf-8")
    assert f"- **Missing**: {MISSING}" in text.splitlines()


def test_every_artefact_of_one_run_sees_the_same_report(suite: pytest.Pytester) -> None:
    out = suite.path
    run(
        suite,
        f"--carbon-json={out / 'r.json'}",
        f"--carbon-markdown={out / 'r.md'}",
        f"--carbon-html={out / 'r.html'}",
        f"--carbon-junit={out / 'r.xml'}",
    )
    report = load_report(out / "r.json")
    assert MISSING in (out / "r.md").read_text(encoding="utf-8")
    assert MISSING in (out / "r.html").read_text(encoding="utf-8")
    (testsuite,) = ET.parse(out / "r.xml").getroot().iter("testsuite")
    assert testsuite.get("hostname") == report["machine"]["hostname"] == HOST


def test_no_xdist_distribution_is_a_single_process(suite: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = suite.runpytest_subprocess("-n", "0", "--carbon", "--carbon-store=off", "--carbon-json=r.json")
    result.assert_outcomes(passed=2)
    report = load_report(suite.path / "r.json")
    assert report["run"]["workers"] == 0
    assert report["missing"].count(MISSING) == 1
