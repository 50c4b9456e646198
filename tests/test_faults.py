"""The plugin under faults of its outputs and of its history, run for real in pytest subprocesses.

For each fault: the tests' own outcomes are unchanged, the exit code is theirs unless an
artefact asked for is missing, the JSON report is where the output says, the history holds
this run whole or not at all (a history that is not ours keeps its bytes), and no traceback.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faults import fill, mounted
from reportdata import make_report

from pytest_carbon.cli import main
from pytest_carbon.store import SCHEMA_VERSION, open_store

SUITE = """
def test_one():
    sum(range(100))

def test_two():
    assert "x"

def test_three():
    pass
"""

NULL = os.makedev(1, 3)  # a copy of /dev/null's numbers, made inside tmp_path
FULL = os.makedev(1, 7)  # a copy of /dev/full's numbers


@pytest.fixture
def suite(carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    carbon_pytester.makepyfile(test_suite=SUITE)
    tmp = carbon_pytester.path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the fallback report goes there, not in the machine's /tmp
    return carbon_pytester


def run(suite: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = suite.runpytest_subprocess("--carbon", "-p", "no:cacheprovider", *args, timeout=180)
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    result.assert_outcomes(passed=3)
    return result


def device(path: Path, numbers: int) -> Path:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, numbers)
        with open(path, "w"):
            pass
    except PermissionError:
        pytest.skip("device nodes need root and a filesystem mounted without nodev")
    return path


def assert_device(path: Path, numbers: int) -> None:
    found = os.stat(path)
    assert stat.S_ISCHR(found.st_mode) and found.st_rdev == numbers, f"{path} is no longer the device it was"


def fallback_of(result: pytest.RunResult) -> Path:
    match = re.search(r"saved in (\S+\.json)", result.stdout.str()) or re.search(
        r"store push (\S+\.json)", result.stdout.str()
    )
    assert match, result.stdout.str()
    return Path(match[1])


def report_at(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert data["complete"] is True and len(data["tests"]) == 3
    return data


def history_is_whole(path: Path) -> list[str]:
    """The run ids in a history, after checking that every run has all its tests (nothing half-written)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        runs = conn.execute("SELECT id, test_count FROM runs").fetchall()
        for run_id, count in runs:
            (stored,) = conn.execute("SELECT count(*) FROM tests WHERE run_id = ?", (run_id,)).fetchone()
            assert stored == count, f"run {run_id} has {stored} of its {count} tests"
        return [r[0] for r in runs]
    finally:
        conn.close()


# ---------------------------------------------------------------------- artefacts


ARTEFACTS = (
    "--carbon-json",
    "--carbon-junit",
    "--carbon-markdown",
    "--carbon-csv",
    "--carbon-csv-tests",
    "--carbon-html",
)


def test_every_artefact_into_a_null_device_leaves_the_device(suite: pytest.Pytester) -> None:
    node = device(suite.path / "null", NULL)
    result = run(suite, *(f"{flag}={node}" for flag in ARTEFACTS))
    assert result.ret == 0
    assert_device(node, NULL)
    assert sorted(p.name for p in suite.path.iterdir() if p.name.startswith("null")) == ["null"]


@pytest.mark.parametrize("flag", ARTEFACTS)
def test_a_full_device_fails_the_run_and_keeps_the_report(suite: pytest.Pytester, flag: str) -> None:
    node = device(suite.path / "full", FULL)
    args = [f"{flag}={node}"] + ([] if flag == "--carbon-json" else ["--carbon-json=r.json"])
    result = run(suite, *args)
    assert result.ret == 1  # the tests passed; an artefact asked for is missing
    out = result.stdout.str()
    assert "No space left on device" in out
    assert re.search(r"carbon: FAILED: not written: [A-Za-z ]+ \(" + re.escape(str(node)) + r"\)", out), out
    assert_device(node, FULL)
    if flag == "--carbon-json":
        saved = fallback_of(result)
        assert saved.parent == suite.path / "tmp"
        report_at(saved)
    else:
        report_at(suite.path / "r.json")


def test_symlinked_artefacts_update_their_targets(suite: pytest.Pytester) -> None:
    out = suite.path / "out"
    out.mkdir()
    for name in ("r.json", "j.xml", "m.md", "c.csv", "p.html"):
        (out / name).write_text("stale")
        (suite.path / name).symlink_to(out / name)
    from pytest_carbon.reports.csv import HEADER

    (out / "c.csv").write_text(HEADER, newline="")  # a log of runs is added to, so it holds a log
    result = run(
        suite,
        "--carbon-json=r.json",
        "--carbon-junit=j.xml",
        "--carbon-markdown=m.md",
        "--carbon-csv=c.csv",
        "--carbon-html=p.html",
    )
    assert result.ret == 0
    for name in ("r.json", "j.xml", "m.md", "c.csv", "p.html"):
        assert (suite.path / name).is_symlink()
        assert (out / name).read_text() not in ("stale", HEADER)
    report_at(out / "r.json")


def test_json_into_a_fifo_reaches_its_reader(suite: pytest.Pytester) -> None:
    fifo = suite.path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:  # blocks until the writer opens it
            received.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = run(suite, f"--carbon-json={fifo}")
    reader.join(30)
    assert result.ret == 0
    assert json.loads(received[0])["complete"] is True
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_fifo_nobody_reads_fails_the_run_without_hanging(suite: pytest.Pytester) -> None:
    fifo = suite.path / "c.fifo"
    os.mkfifo(fifo)
    result = run(suite, f"--carbon-csv={fifo}", "--carbon-json=r.json")
    assert result.ret == 1
    assert "no process reads this FIFO" in result.stdout.str()
    report_at(suite.path / "r.json")


@pytest.mark.parametrize("flag", ARTEFACTS)
def test_dash_is_standard_output(suite: pytest.Pytester, flag: str) -> None:
    result = run(suite, f"{flag}=-")
    assert result.ret == 0
    out = result.stdout.str()
    marker = {
        "--carbon-json": '"schema_version": 1',
        "--carbon-junit": "<testsuite",
        "--carbon-markdown": "| # | test | outcome |",
        "--carbon-csv": "timestamp,project_name",
        "--carbon-csv-tests": "timestamp,project_name",
        "--carbon-html": "<!DOCTYPE html>",
    }[flag]
    assert marker in out
    assert not (suite.path / "-").exists()


def test_json_on_stdout_is_the_whole_report(suite: pytest.Pytester) -> None:
    lines = run(suite, "--carbon-json=-", "-q").stdout.lines
    start = lines.index("{")
    end = lines.index("}", start)
    report = json.loads("\n".join(lines[start : end + 1]))
    assert report["complete"] is True and len(report["tests"]) == 3


# ---------------------------------------------------------------------- a full disk


def test_full_disk_fails_the_run_keeps_the_report_and_push_stores_this_run(suite: pytest.Pytester) -> None:
    disk = suite.path / "disk"
    with mounted(disk, "tmpfs", "size=256k"):
        previous = make_report(run_id="0" * 32)
        (disk / "r.json").write_text(json.dumps(previous))  # the report of an earlier run
        filler = fill(disk)
        result = run(suite, f"--carbon-json={disk}/r.json", f"--carbon-store={disk}/h.sqlite")
        out = result.stdout.str()
        assert result.ret == 1, out
        assert "cannot rollback" not in out
        assert re.search(r"could not write the JSON report to \S+/r.json: No space left on device", out), out
        saved = fallback_of(result)
        assert saved.parent == suite.path / "tmp"
        report = report_at(saved)
        # the history hint names the file that holds this run
        assert "history: this run was NOT stored: " in out
        assert f"`pytest-carbon store push {saved}` can store it later" in out
        # the earlier report is whole and still the earlier one: the hint must not name it
        assert json.loads((disk / "r.json").read_text())["run"]["id"] == "0" * 32
        assert report["run"]["id"] != "0" * 32
        assert f"store push {disk}/r.json" not in out
        if (disk / "h.sqlite").exists():
            assert history_is_whole(disk / "h.sqlite") == []
        filler.unlink()  # space again: the hint works and stores this very run
        assert main(["store", "push", str(saved), "--store", str(disk / "h.sqlite")]) == 0
        assert history_is_whole(disk / "h.sqlite") == [report["run"]["id"]]


def test_full_disk_on_a_fresh_history_names_the_cause(suite: pytest.Pytester) -> None:
    disk = suite.path / "disk"
    with mounted(disk, "tmpfs", "size=256k"):
        fill(disk, leave_bytes=8192)  # room for little more than the file's first pages
        result = run(suite, f"--carbon-store={disk}/h.sqlite")
        out = result.stdout.str()
        assert result.ret == 0  # no artefact asked for: the history's failure does not fail the run
        assert "cannot rollback" not in out
        line = next(x for x in out.splitlines() if x.startswith("history: this run was NOT stored"))
        assert "full" in line or "No space" in line, line
        saved = fallback_of(result)
        report_at(saved)
        assert not (disk / "h.sqlite").exists() or history_is_whole(disk / "h.sqlite") == []


# ---------------------------------------------------------------------- histories that are not ours


def _meta(value: str | None) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY)")
        conn.execute("CREATE TABLE tests (run_id TEXT)")
        if value is not None:
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (value,))
        conn.commit()
        conn.close()

    return make


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()


HISTORIES: dict[str, tuple[Callable[[Path], None], str]] = {
    "meta not a number": (_meta("one"), "holds schema version 'one' in its meta table"),
    "meta negative": (_meta("-1"), "holds schema version '-1'"),
    "meta empty text": (_meta(""), "holds schema version ''"),
    "meta without a version": (_meta(None), "meta table without schema_version"),
    "future version": (_meta(str(SCHEMA_VERSION + 1)), "newer than this pytest-carbon knows"),
    "another application's database": (_foreign, "a SQLite database of another application (tables: invoices)"),
    "zero-length file": (lambda p: p.write_bytes(b""), "is an empty file, not a pytest-carbon history"),
    "random bytes": (lambda p: p.write_bytes(os.urandom(4096)), "not a SQLite database or is damaged"),
    "text file": (lambda p: p.write_text("history\n" * 100), "not a SQLite database or is damaged"),
}


@pytest.mark.parametrize("compare", [False, True], ids=["record", "compare-last"])
@pytest.mark.parametrize("case", list(HISTORIES))
def test_a_history_that_is_not_ours_is_left_untouched(suite: pytest.Pytester, case: str, compare: bool) -> None:
    make, message = HISTORIES[case]
    history = suite.path / "h.sqlite"
    make(history)
    before = (history.read_bytes(), history.stat().st_mtime_ns, sorted(p.name for p in suite.path.glob("h.sqlite*")))
    args = ["--carbon-json=r.json", "--carbon-store=h.sqlite"] + (["--carbon-compare=last"] if compare else [])
    result = run(suite, *args)
    out = result.stdout.str()
    assert result.ret == 0, out
    assert message in out
    assert "history: this run was NOT stored" in out and "store push r.json" in out
    if compare:
        assert "--carbon-compare=last: the history could not be read" in out
    after = (history.read_bytes(), history.stat().st_mtime_ns, sorted(p.name for p in suite.path.glob("h.sqlite*")))
    assert after == before  # the same bytes, not even touched, and no -wal, -shm or journal left beside it
    report_at(suite.path / "r.json")


def test_an_empty_sqlite_database_becomes_a_history(suite: pytest.Pytester) -> None:
    conn = sqlite3.connect(suite.path / "h.sqlite")
    conn.execute("PRAGMA user_version = 0")  # writes the header: a database without a table
    conn.execute("VACUUM")
    conn.close()
    result = run(suite, "--carbon-json=r.json", "--carbon-store=h.sqlite")
    assert result.ret == 0
    assert history_is_whole(suite.path / "h.sqlite") == [report_at(suite.path / "r.json")["run"]["id"]]


# ---------------------------------------------------------------------- the store turned off


def files_of(suite: pytest.Pytester) -> list[str]:
    """What is in the suite's folder, pytester's own capture files left aside."""
    own = ("runpytest-", "stdout", "stderr")
    return sorted(str(p.relative_to(suite.path)) for p in suite.path.rglob("*") if not p.name.startswith(own))


@pytest.mark.parametrize("spelling", ["off", "none", "None", "false", "0", "no", " OFF "])
def test_store_off_in_every_spelling_creates_no_file(suite: pytest.Pytester, spelling: str) -> None:
    before = files_of(suite)
    result = run(suite, f"--carbon-store={spelling}", "--carbon-compare=last")
    assert result.ret == 0
    assert files_of(suite) == before
    assert "history:" not in result.stdout.str()


def test_store_off_from_the_environment(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_CARBON_STORE", "none")
    before = files_of(suite)
    run(suite, "--carbon-compare=last")
    assert files_of(suite) == before


def test_store_of_a_run_is_whole_or_absent_after_a_good_run(suite: pytest.Pytester) -> None:
    run(suite, "--carbon-json=r.json")
    ids = history_is_whole(suite.path / ".carbon" / "history.sqlite")
    assert ids == [report_at(suite.path / "r.json")["run"]["id"]]
    with open_store(None, suite.path, read_only=True) as store:
        assert len(store.tests(ids[0])) == 3


def test_default_history_that_cannot_be_made_keeps_the_run(suite: pytest.Pytester) -> None:
    """The default location is not refused at start-up: the run goes on, and a file holds it."""
    (suite.path / ".carbon").write_text("a file where the history's folder would be")
    result = run(suite)
    out = result.stdout.str()
    assert result.ret == 0
    assert "history: this run was NOT stored: cannot create the folder of the history" in out
    saved = fallback_of(result)
    assert saved.parent == suite.path / "tmp"
    report_at(saved)


def test_under_xdist_the_controller_fails_the_run_and_keeps_the_report(suite: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    node = device(suite.path / "full", FULL)
    result = run(suite, "-n", "2", f"--carbon-json={node}", "--carbon-junit=j.xml")
    out = result.stdout.str()
    assert result.ret == 1
    assert out.count("could not write the JSON report") == 1  # the controller alone writes
    report_at(fallback_of(result))
    assert (suite.path / "j.xml").is_file()
    assert_device(node, FULL)
