"""The default SQLite history: layout, round trip, idempotence, concurrency, faults."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from reportdata import NASTY_IDS, make_report

from pytest_carbon.store import SCHEMA_VERSION, StoreError, default_path, open_store


def test_default_location_and_gitignore(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        store.record(make_report())
    assert default_path(tmp_path).is_file()
    assert (tmp_path / ".carbon" / ".gitignore").read_text() == "*\n"
    conn = sqlite3.connect(default_path(tmp_path))
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    conn.close()


@pytest.mark.parametrize("form", ["sqlite:///{p}", "{p}", "relative"])
def test_url_forms(tmp_path: Path, form: str) -> None:
    target = tmp_path / "elsewhere" / "h.sqlite"
    url = "elsewhere/h.sqlite" if form == "relative" else form.format(p=target)
    with open_store(url, tmp_path) as store:
        store.record(make_report())
    assert target.is_file()


def test_unknown_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"unknown history URL scheme.*postgresql://") as info:
        open_store("mysql://u:pw123@h/db", tmp_path)
    assert "pw123" not in str(info.value)


def test_round_trip_keeps_every_figure(tmp_path: Path) -> None:
    report = make_report([(nodeid, 0.5 + i) for i, nodeid in enumerate(NASTY_IDS)])
    report["tests"][2]["budget"] = {"limit": "2 J", "status": "exceeded"}
    report["tests"][3]["outcome"] = "failed"
    with open_store(None, tmp_path) as store:
        store.record(report, organisation="acme")
        back = store.last_report("demo", "main")
        (summary,) = store.runs()
    assert back is not None
    assert back["tests"] == [{**t, "budget": t.get("budget")} for t in report["tests"]]
    assert back["session"] == report["session"]
    assert back["machine"] == report["machine"]
    assert back["run"]["organisation"] == "acme"
    assert summary["test_count"] == len(NASTY_IDS)
    assert summary["failed_count"] == 1
    assert summary["co2_g"] == pytest.approx(report["session"]["co2_g"])


def test_same_run_twice_is_stored_once(tmp_path: Path) -> None:
    report = make_report(run_id="f" * 32)
    with open_store(None, tmp_path) as store:
        store.record(report)
        store.record(report)
        assert len(store.runs()) == 1
        assert len(store.tests("f" * 32)) == 2


def test_filters_order_and_last_report(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        for n, (project, branch, day) in enumerate(
            [("a", "main", 1), ("a", "main", 3), ("a", "dev", 4), ("b", "main", 2), ("a", "main", 5)]
        ):
            report = make_report(run_id=f"{n:032d}")
            report["run"]["project"] = project
            report["run"]["git"]["branch"] = branch
            report["run"]["started_at"] = f"2026-11-0{day}T00:00:00Z"
            report["complete"] = n != 4  # the newest run of a/main was cut short
            store.record(report)
        assert [r["id"][-1] for r in store.runs(project="a", branch="main")] == ["4", "1", "0"]
        assert [r["id"][-1] for r in store.runs(limit=2)] == ["4", "2"]
        assert store.projects() == ["a", "b"]
        last = store.last_report("a", "main")
        assert last is not None and last["run"]["id"][-1] == "1"  # the newest complete one
        assert store.last_report("c", "main") is None
        # project given to record() overrides the report's own
        store.record(make_report(run_id="9" * 32), project="renamed")
        assert store.runs(project="renamed")[0]["id"] == "9" * 32


def test_bad_report_is_refused(tmp_path: Path) -> None:
    report = make_report()
    del report["run"]["id"]
    with open_store(None, tmp_path) as store, pytest.raises(StoreError, match=r"no run\.id"):
        store.record(report)


@pytest.mark.parametrize("built_here", [False, True])
def test_entries_of_any_shape_round_trip(tmp_path: Path, built_here: bool) -> None:
    """The direct path for the plugin's own entries and the key-by-key path store the same things."""
    report = make_report([(f"tests/test_s.py::test_{i}", 0.25 * (i + 1)) for i in range(6)])
    tests = report["tests"]
    tests[1]["subtests"] = {"count": 3, "failed": 1}  # a key of its own: kept in extra
    tests[2]["energy_j"] = 2  # an int figure
    tests[3]["line"] = None
    tests[4]["components_j"] = {"ram": 0.5, "cpu": 0.75, "gpu": 0.0}  # other key order
    tests[5]["worker"] = "gw3"
    with open_store(None, tmp_path) as store:
        store.record(report, built_here=built_here)
        back = store.last_report("demo", "main")
    assert back is not None
    for stored, sent in zip(back["tests"], tests, strict=True):
        assert stored == {**sent, "budget": None}


def test_a_report_broken_by_a_hook_is_refused_not_raised(tmp_path: Path) -> None:
    report = make_report()
    del report["tests"][0]["nodeid"]
    with open_store(None, tmp_path) as store, pytest.raises(StoreError, match="cannot store this report"):
        store.record(report, built_here=True)


def test_ten_thousand_tests_fast(tmp_path: Path) -> None:
    report = make_report([(f"tests/test_big.py::test_p[{i}]", 0.01) for i in range(10_000)])
    with open_store(None, tmp_path) as store:
        started = time.perf_counter()
        store.record(report)
        elapsed_s = time.perf_counter() - started
        assert store.runs()[0]["test_count"] == 10_000
    print(f"recorded 10,000 tests in SQLite in {elapsed_s * 1e3:.0f} ms")
    assert elapsed_s < 1.0  # the benchmark holds the 300 ms target; this guards against row-by-row commits


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = default_path(tmp_path)
    path.parent.mkdir()
    path.write_bytes(b"this is not a database, just some bytes " * 200)
    with pytest.raises(StoreError) as info:
        open_store(None, tmp_path)
    text = str(info.value)
    assert "not a SQLite database or is damaged" in text
    assert f"mv {path} {path}.bad" in text


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    open_store(None, tmp_path).close()
    conn = sqlite3.connect(default_path(tmp_path))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"newer than this pytest-carbon knows \(1\): upgrade pytest-carbon"):
        open_store(None, tmp_path)


def test_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        open_store(str(blocker / "sub" / "h.sqlite"), tmp_path)


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from reportdata import make_report
    from pytest_carbon.store import open_store

    worker = int(sys.argv[1])
    for n in range({runs}):
        # a connection per run, as separate pytest sessions would do
        with open_store({url!r}, Path(".")) as store:
            report = make_report([(f"t.py::test_{{i}}", 0.5) for i in range(300)], run_id=f"{{worker:04d}}{{n:028d}}")
            store.record(report)
    """
)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    writers, runs_each = 6, 10
    url = str(tmp_path / "shared.sqlite")
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(Path(__file__).parent), url=url, runs=runs_each), encoding="utf-8")
    procs = [subprocess.Popen([sys.executable, str(script), str(w)], stderr=subprocess.PIPE) for w in range(writers)]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, errors
    with open_store(url, tmp_path) as store:
        runs = store.runs()
        assert len({r["id"] for r in runs}) == writers * runs_each
        assert all(len(store.tests(r["id"])) == 300 for r in runs)


def test_locked_file_gives_up_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_carbon.store import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(sqlite_store, "ATTEMPTS", 2)
    with open_store(None, tmp_path) as store:
        store.record(make_report(run_id="1" * 32))
    holder = sqlite3.connect(default_path(tmp_path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=r"locked by another process .* for 2 attempts"):
            store = open_store(None, tmp_path)
            store.record(make_report(run_id="2" * 32))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
