"""The plugin records each run in the history; a store that fails never changes the run's outcome."""

from __future__ import annotations

# ruff: noqa: F811  (the server fixtures are imported from tests/pg.py and requested by name)
import contextlib
import json
import subprocess
import sys

import pytest
from conftest import load_report
from pg import PgServer, free_port, pg_database, pg_server  # noqa: F401

from pytest_carbon.cli import main

# imported here so that in-process inner sessions (which restore sys.modules) keep one copy of it
with contextlib.suppress(ImportError):
    import psycopg  # noqa: F401
from pytest_carbon.store import default_path, open_store

TESTS = """
import pytest

def test_ok():
    sum(range(1000))

@pytest.mark.parametrize("v", ["<script>alert(1)</script>", "plain"])
def test_param(v):
    assert v

def test_fails():
    assert 1 == 2
"""


@pytest.fixture
def suite(carbon_pytester: pytest.Pytester) -> pytest.Pytester:
    carbon_pytester.makepyfile(test_suite=TESTS)
    return carbon_pytester


def test_run_is_stored_by_default(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--carbon", "--carbon-json=r.json", "--carbon-organisation=acme")
    assert result.ret == 1  # the failing test's own exit code
    result.stdout.fnmatch_lines(["history: run stored in *.carbon/history.sqlite"])
    report = load_report(suite.path / "r.json")
    assert (suite.path / ".carbon" / ".gitignore").read_text() == "*\n"
    with open_store(None, suite.path) as store:
        (run,) = store.runs()
        assert run["id"] == report["run"]["id"]
        assert run["organisation"] == "acme"
        assert run["project"] == report["run"]["project"]
        assert run["test_count"] == 4 and run["failed_count"] == 1
        back = store.last_report(report["run"]["project"], report["run"]["git"]["branch"])
    assert back is not None
    assert [t["nodeid"] for t in back["tests"]] == [t["nodeid"] for t in report["tests"]]
    # the store keeps the figures as computed; the JSON file writes test figures with 12 digits
    assert [t["energy_j"] for t in back["tests"]] == pytest.approx([t["energy_j"] for t in report["tests"]], rel=1e-11)


def test_store_off_and_project_override(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--carbon", "--carbon-store=off")
    assert result.ret == 1
    assert not (suite.path / ".carbon").exists()
    assert "history:" not in result.stdout.str()
    result = suite.runpytest("--carbon", "--carbon-project=renamed", "--carbon-store=hist/h.sqlite")
    assert result.ret == 1
    with open_store("hist/h.sqlite", suite.path) as store:
        assert [r["project"] for r in store.runs()] == ["renamed"]


def test_corrupt_sqlite_keeps_the_run_and_the_report(suite: pytest.Pytester) -> None:
    path = default_path(suite.path)
    path.parent.mkdir()
    path.write_bytes(b"\x00garbage, not SQLite" * 100)
    result = suite.runpytest("--carbon", "--carbon-json=r.json")
    assert result.ret == 1
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "history: this run was NOT stored: the history */history.sqlite is not a SQLite database or is damaged*"
            "`pytest-carbon store push r.json` can store it later"
        ]
    )
    report = load_report(suite.path / "r.json")
    assert report["complete"] is True and len(report["tests"]) == 4
    # the advice works: move the damaged file away, push the saved report
    path.rename(path.with_suffix(".bad"))
    assert main(["store", "push", str(suite.path / "r.json"), "--store", str(path)]) == 0
    with open_store(str(path), suite.path) as store:
        assert [r["id"] for r in store.runs()] == [report["run"]["id"]]


def test_server_down_keeps_the_run(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "pw-that-must-not-leak")
    url = f"postgresql://carbon@127.0.0.1:{free_port()}/history"
    result = suite.runpytest("--carbon", "--carbon-json=r.json", f"--carbon-store={url}")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["history: this run was NOT stored: *is the server running*store push r.json*"])
    assert "pw-that-must-not-leak" not in result.stdout.str()
    assert load_report(suite.path / "r.json")["complete"] is True


def test_wrong_password_keeps_the_run(
    suite: pytest.Pytester, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "wrong-pw-4567")
    result = suite.runpytest("--carbon", "--carbon-json=r.json", f"--carbon-store={pg_server.url('postgres')}")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["history: this run was NOT stored: *password authentication failed*"])
    assert "wrong-pw-4567" not in result.stdout.str()
    report = load_report(suite.path / "r.json")
    assert report["complete"] is True and len(report["tests"]) == 4
    text = (suite.path / "r.json").read_text()
    assert "wrong-pw-4567" not in text and pg_server.password not in text


def test_postgresql_and_xdist_store_one_run(suite: pytest.Pytester, pg_database: str) -> None:
    pytest.importorskip("xdist")
    result = suite.runpytest_subprocess("--carbon", "-n", "2", "--carbon-json=r.json", f"--carbon-store={pg_database}")
    assert result.ret == 1
    report = load_report(suite.path / "r.json")
    with open_store(pg_database, suite.path) as store:
        (run,) = store.runs()  # the controller wrote; the workers did not
        assert run["id"] == report["run"]["id"]
        assert len(store.tests(run["id"])) == 4


def test_html_page(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--carbon", "--carbon-html=out/run.html", "--carbon-store=off")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["HTML page: out/run.html"])
    text = (suite.path / "out" / "run.html").read_text()
    assert "test_param[&lt;script&gt;alert(1)&lt;/script&gt;]" in text
    assert "<script" not in text


def test_eight_concurrent_pytest_processes_lose_no_run(suite: pytest.Pytester, pg_database: str) -> None:
    procs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--carbon", f"--carbon-json=r{n}.json"),
                *(f"--carbon-store={pg_database}", f"--carbon-project=p{n % 2}"),
            ],
            cwd=suite.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in range(8)
    ]
    outputs = [p.communicate(timeout=180)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [1] * 8, outputs  # each run's own exit code (one failing test)
    ids = {json.loads((suite.path / f"r{n}.json").read_text())["run"]["id"] for n in range(8)}
    with open_store(pg_database, suite.path) as store:
        runs = store.runs()
        assert {r["id"] for r in runs} == ids
        assert all(len(store.tests(r["id"])) == 4 for r in runs)
    assert all("history: run stored in postgresql://carbon@" in out for out in outputs)
