"""A history is changed only when it is ours; reading never writes; the commands find the project's root."""

from __future__ import annotations

# ruff: noqa: F811  (the server fixtures are imported from tests/pg.py and requested by name)
import json
import os
import sqlite3
from pathlib import Path

import pytest
from faults import run_as_nobody, shared_folder
from pg import PgServer, pg_database, pg_server  # noqa: F401
from reportdata import make_report

from pytest_carbon.cli import main
from pytest_carbon.store import SCHEMA_VERSION, NoHistory, StoreError, open_store, project_root
from pytest_carbon.store.postgresql import scrub


def stored_history(path: Path, runs: int = 2) -> Path:
    with open_store(str(path), path.parent) as store:
        for n in range(runs):
            store.record(make_report(run_id=f"{n:032d}"))
    return path


def snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    """The file's bytes, its modification time and what lies beside it."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


# ---------------------------------------------------------------------- opening without changing


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.0", "holds schema version '1.0'"),
        ("abc", "holds schema version 'abc'"),
        (" ", "holds schema version ' '"),
        ("0", "holds schema version '0'"),
        (str(SCHEMA_VERSION + 1), "newer than this pytest-carbon knows"),
        ("99999999999999999999", "newer than this pytest-carbon knows"),
    ],
)
def test_meta_that_cannot_be_read_leaves_the_file_as_it_was(tmp_path: Path, value: str, message: str) -> None:
    path = stored_history(tmp_path / "h.sqlite")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.commit()
    conn.execute("PRAGMA journal_mode=DELETE")  # as another tool may leave it
    conn.close()
    before = snapshot(path)
    for read_only in (False, True):
        with pytest.raises(StoreError, match=message):
            open_store(str(path), tmp_path, read_only=read_only)
    assert snapshot(path) == before  # not switched to WAL, not migrated, no file made beside it
    assert main(["history", "--store", str(path)]) == 1


def test_foreign_database_gains_no_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("CREATE TABLE runs (id TEXT)")  # even a table of the same name
    conn.commit()
    conn.close()
    before = snapshot(path)
    with pytest.raises(StoreError, match=r"another application \(tables: runs, users\)"):
        open_store(str(path), tmp_path)
    assert main(["store", "push", str(tmp_path / "none.json"), "--store", str(path)]) == 2  # no such report
    report = tmp_path / "r.json"
    report.write_text(json.dumps(make_report()))
    assert main(["store", "push", str(report), "--store", str(path)]) == 1
    assert "another application" in capsys.readouterr().err
    assert snapshot(path)[:2] == before[:2]
    conn = sqlite3.connect(path)
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == {"users", "runs"}
    conn.close()


def test_a_new_history_is_made_whole(tmp_path: Path) -> None:
    path = tmp_path / "new" / "h.sqlite"
    with open_store(str(path), tmp_path) as store:
        assert store.runs() == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["h.sqlite"]  # nothing made aside is left
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_push_of_a_stored_run_says_it_was_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps(make_report(run_id="7" * 32)))
    store = str(tmp_path / "h.sqlite")
    assert main(["store", "push", str(report), "--store", store]) == 0
    assert capsys.readouterr().out.startswith(f"stored {report} in ")
    assert main(["store", "push", str(report), "--store", store]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"already stored: {report} (run 777777777777) is in ")
    assert "left as it is" in out
    with open_store(store, tmp_path, read_only=True) as opened:
        assert len(opened.runs()) == 1


# ---------------------------------------------------------------------- reading never writes


def test_reading_commands_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTEST_CARBON_STORE", raising=False)
    assert main(["history"]) == 0
    assert "no stored runs: there is no history at" in capsys.readouterr().out
    assert main(["history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["dashboard", "-o", "site"]) == 1
    assert "there is no history at" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    with pytest.raises(NoHistory):
        open_store(None, tmp_path, read_only=True)


def test_read_only_file_is_read_by_root_without_a_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = stored_history(tmp_path / "h.sqlite")
    path.chmod(0o444)
    before = snapshot(path)
    assert main(["history", "--store", str(path), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["dashboard", "--store", str(path), "-o", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "index.html").is_file()
    assert snapshot(path)[:2] == before[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.sqlite", "site"]


def test_read_only_history_as_an_unprivileged_user() -> None:
    with shared_folder() as folder:
        path = stored_history(folder / "h.sqlite")
        path.chmod(0o444)
        site = folder / "site"
        site.mkdir()
        site.chmod(0o777)
        before = snapshot(path)
        done = run_as_nobody(["-m", "pytest_carbon.cli", "history", "--store", str(path), "--json"], folder)
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)) == 2
        done = run_as_nobody(["-m", "pytest_carbon.cli", "dashboard", "--store", str(path), "-o", str(site)], folder)
        assert done.returncode == 0, done.stderr
        assert (site / "index.html").is_file()
        assert snapshot(path)[:2] == before[:2]
        # writing is refused with a clear message, and the file stays as it was
        report = folder / "r.json"
        report.write_text(json.dumps(make_report(run_id="9" * 32)))
        report.chmod(0o644)
        done = run_as_nobody(["-m", "pytest_carbon.cli", "store", "push", str(report), "--store", str(path)], folder)
        assert done.returncode == 1
        assert "Traceback" not in done.stderr and "pytest-carbon store:" in done.stderr
        assert snapshot(path)[:2] == before[:2]


# ---------------------------------------------------------------------- the project's root


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\n"),
        ("pyproject.toml", "[project]\nname = 'x'\n\n[tool.pytest.ini_options]\naddopts = ''\n"),
        ("tox.ini", "[tox]\n\n[pytest]\n"),
        ("setup.cfg", "[metadata]\n\n[tool:pytest]\n"),
    ],
)
def test_commands_use_the_root_pytest_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / name).write_text(text)
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    (deep / "setup.cfg").write_text("[metadata]\n")  # no pytest section: not a root
    (tmp_path / "src" / "tox.ini").write_text("[tox]\n")  # no [pytest] section: not a root either
    assert project_root(deep) == tmp_path
    monkeypatch.chdir(deep)
    monkeypatch.delenv("PYTEST_CARBON_STORE", raising=False)
    report = tmp_path / "r.json"
    report.write_text(json.dumps(make_report()))
    assert main(["store", "push", str(report)]) == 0
    assert (tmp_path / ".carbon" / "history.sqlite").is_file()
    assert not (deep / ".carbon").exists()
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_root_without_configuration(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "a").mkdir()
    assert project_root(tmp_path / "a") == tmp_path
    assert project_root(Path("/")) == Path("/")


def test_rootdir_of_pytest_and_of_the_commands_agree(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    sub = pytester.mkpydir("sub")
    (sub / "setup.cfg").write_text("[metadata]\n")
    result = pytester.runpytest_subprocess(str(sub), "--co", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"rootdir: {pytester.path}*"])
    assert project_root(sub) == pytester.path


# ---------------------------------------------------------------------- PostgreSQL passwords


def test_a_short_password_is_scrubbed_where_it_stands() -> None:
    text = 'connection failed: user "postgres" at postgresql://postgres:e@db/history with password=e and secret e'
    assert scrub(text, "e") == (
        'connection failed: user "postgres" at postgresql://postgres:***@db/history with password=*** and secret ***'
    )


def test_wrong_short_password_keeps_the_message_and_the_hint(
    pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    for password in ("e", "s", "password", "failed"):
        url = pg_server.url("postgres").replace(f"{pg_server.user}@", f"{pg_server.user}:{password}@")
        with pytest.raises(StoreError) as info:
            open_store(url, tmp_path)
        text = str(info.value)
        assert f":{password}@" not in text and ":***@" in text
        assert "check the user and the password" in text
        assert "connection" in text and "authentication" in text
        assert f'user "{pg_server.user}"' in text, text


def test_reading_a_postgresql_history_creates_no_table(pg_database: str, tmp_path: Path) -> None:
    import psycopg

    with pytest.raises(NoHistory, match="no pytest-carbon history"):
        open_store(pg_database, tmp_path, read_only=True)
    with psycopg.connect(pg_database) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    assert tables == []
    with open_store(pg_database, tmp_path) as store:
        store.record(make_report())
    with open_store(pg_database, tmp_path, read_only=True) as store:
        assert len(store.runs()) == 1
        with pytest.raises(StoreError, match="opened to be read"):
            store.record(make_report(run_id="1" * 32))
    with psycopg.connect(pg_database) as conn:
        conn.execute("UPDATE meta SET value = 'x' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="holds schema version 'x'"):
        open_store(pg_database, tmp_path)


def test_sqlite_history_opened_to_read_cannot_write(tmp_path: Path) -> None:
    path = stored_history(tmp_path / "h.sqlite", runs=1)
    before = snapshot(path)
    with open_store(str(path), tmp_path, read_only=True) as store, pytest.raises(StoreError, match="opened to be"):
        store.record(make_report(run_id="5" * 32))
    assert snapshot(path) == before
    assert os.path.getsize(path) > 0
