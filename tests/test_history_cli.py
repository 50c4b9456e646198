"""``pytest-carbon history`` and ``pytest-carbon store push``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reportdata import make_report

from pytest_carbon.cli import main
from pytest_carbon.store import open_store


@pytest.fixture
def pushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTEST_CARBON_STORE", raising=False)
    for n, (project, branch) in enumerate([("web", "main"), ("web", "dev"), ("api", "main")]):
        report = make_report(run_id=f"{n:032d}")
        report["run"]["project"] = project
        report["run"]["git"]["branch"] = branch
        report["run"]["started_at"] = f"2026-11-0{n + 1}T00:00:00Z"
        path = tmp_path / f"r{n}.json"
        path.write_text(json.dumps(report), encoding="utf-8")
        assert main(["store", "push", str(path)]) == 0
    return tmp_path


def test_push_goes_to_the_default_file_here(pushed: Path) -> None:
    assert (pushed / ".carbon" / "history.sqlite").is_file()


def test_history_json_filters(pushed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history", "--project", "web", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["project"], r["branch"]) for r in runs] == [("web", "dev"), ("web", "main")]
    assert main(["history", "--project", "web", "--branch", "main", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["id"] == f"{0:032d}"
    assert run["test_count"] == 2
    assert main(["history", "--limit", "1", "--json"]) == 0
    assert [r["project"] for r in json.loads(capsys.readouterr().out)] == ["api"]


def test_history_table(pushed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("started (UTC)")
    assert len(lines) == 4
    assert lines[1].startswith("2026-11-03T00:00:00Z") and " api " in lines[1]
    assert main(["history", "--project", "nothing"]) == 0
    assert "no stored runs" in capsys.readouterr().out


def test_store_from_environment(
    pushed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = pushed / "other.sqlite"
    monkeypatch.setenv("PYTEST_CARBON_STORE", str(other))
    assert main(["store", "push", str(pushed / "r0.json"), "--project", "env-project", "--organisation", "o"]) == 0
    with open_store(str(other), pushed) as store:
        assert [(r["project"], r["organisation"]) for r in store.runs()] == [("env-project", "o")]


def test_bad_input_is_a_usage_error(pushed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pushed / "bad.json").write_text("{not json")
    assert main(["store", "push", str(pushed / "bad.json")]) == 2
    assert "not JSON" in capsys.readouterr().err
    report = make_report()
    del report["session"]
    (pushed / "nosession.json").write_text(json.dumps(report))
    assert main(["store", "push", str(pushed / "nosession.json")]) == 2
    assert "no session figures" in capsys.readouterr().err
    assert main(["history", "--limit", "-1"]) == 2
    assert main(["store"]) == 2  # no action
    assert main(["dashboard"]) == 2  # -o is required


def test_store_failure_exits_1(pushed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pushed / "corrupt.sqlite").write_bytes(b"garbage" * 500)
    assert main(["history", "--store", str(pushed / "corrupt.sqlite")]) == 1
    err = capsys.readouterr().err
    assert "not a SQLite database or is damaged" in err
    assert "Traceback" not in err
