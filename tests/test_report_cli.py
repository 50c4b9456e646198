"""``pytest-carbon report`` and ``pytest-carbon compare`` on saved reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from junitparser import JUnitXml
from reportdata import NASTY_IDS, make_report

from pytest_carbon.cli import main


def _save(path: Path, report: dict) -> str:  # type: ignore[type-arg]
    path.write_text(json.dumps(report), encoding="utf-8")
    return str(path)


def test_report_writes_all_three(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = make_report([(n, 1.0) for n in NASTY_IDS])
    src = _save(tmp_path / "carbon.json", report)
    md, xml, table = tmp_path / "c.md", tmp_path / "c.xml", tmp_path / "c.csv"
    per_test = tmp_path / "t.csv"
    code = main(
        ["report", src, "--markdown", str(md), "--junit", str(xml), "--csv", str(table), "--csv-tests", str(per_test)]
    )
    assert code == 0
    assert md.read_text(encoding="utf-8").startswith("<!-- pytest-carbon -->")
    assert sum(1 for suite in JUnitXml.fromfile(str(xml)) for _ in suite) == len(NASTY_IDS)
    with open(table, encoding="utf-8", newline="") as fh:
        assert [row["experiment_id"] for row in csv.DictReader(fh)] == ["session"]
    with open(per_test, encoding="utf-8", newline="") as fh:
        assert [row["experiment_id"] for row in csv.DictReader(fh)] == NASTY_IDS
    assert "wrote" in capsys.readouterr().err


def test_report_markdown_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _save(tmp_path / "carbon.json", make_report())
    assert main(["report", src]) == 0
    assert "### pytest-carbon:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ('{"a": 1}', "not a pytest-carbon report"),
        ('{"schema_version": 9}', "schema version 9"),
        ('{"schema_version": 1, "tests": []}', "no session figures"),
        ('{"schema_version": 1, "session": {"energy_j": 1, "co2_g": 0}, "tests": [{"nodeid": "x"}]}', "no energy_j"),
    ],
)
def test_bad_files_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    good = _save(tmp_path / "good.json", make_report())
    assert main(["report", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert main(["compare", good, str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_compare_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _save(tmp_path / "base.json", make_report([("t.py::a", 10.0)], remainder_j=0.0))
    same = _save(tmp_path / "same.json", make_report([("t.py::a", 10.5)], remainder_j=0.0))
    worse = _save(tmp_path / "worse.json", make_report([("t.py::a", 13.0)], remainder_j=0.0))
    energy = ["--metric", "energy"]
    assert main(["compare", base, same, "--fail", "15%", *energy]) == 0
    assert main(["compare", base, worse, "--fail", "15%", *energy]) == 1
    out = capsys.readouterr().out
    assert "session: 10 J (1 run, band " in out
    assert "-> 13 J (+3 J, +30.0%): regression, significant (p=" in out
    assert main(["compare", base, worse, "--fail", "40", *energy]) == 0
    assert main(["compare", base, worse, *energy]) == 0  # no threshold: report only
    assert main(["compare", base, worse, "--fail", "lots"]) == 2
    assert "15%" in capsys.readouterr().err
    assert main(["compare", base, worse, "--fail", "15%", "--alpha", "2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["compare", base, worse, "--fail", "15%", "--json", *energy]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["failed"] is True and data["session"]["change"] == pytest.approx(3.0)


def test_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _save(tmp_path / "carbon.json", make_report())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", src, "--junit", str(blocker / "sub" / "c.xml")]) == 2
    err = capsys.readouterr().err
    assert "--junit:" in err and "is a file, not a folder" in err  # refused before anything is written
