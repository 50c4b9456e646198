"""The CSV in CodeCarbon's columns and units, read back with the csv module."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from reportdata import AWS_IE, NASTY_IDS, make_report

from pytest_carbon.reports.csv import COLUMNS, SESSION_ID, write_csv, write_tests_csv


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_round_trip_with_nasty_ids(tmp_path: Path) -> None:
    report = make_report([(n, 1.0 + i) for i, n in enumerate(NASTY_IDS)])
    path = tmp_path / "emissions.csv"
    write_csv(report, path)
    tests_path = tmp_path / "tests.csv"
    write_tests_csv(report, tests_path)
    rows = _read(tests_path)
    assert [r["experiment_id"] for r in rows] == NASTY_IDS
    for row, entry in zip(rows, report["tests"], strict=True):
        assert float(row["energy_consumed"]) == pytest.approx(entry["energy_j"] / 3.6e6)
        assert float(row["emissions"]) == pytest.approx(entry["co2_g"] / 1000)
        assert float(row["cpu_power"]) == pytest.approx(entry["components_j"]["cpu"] / entry["duration_s"])
        assert float(row["duration"]) == pytest.approx(entry["duration_s"])
    (session,) = _read(path)
    assert session["experiment_id"] == SESSION_ID
    assert float(session["energy_consumed"]) == pytest.approx(report["session"]["energy_j"] / 3.6e6)
    assert session["country_iso_code"] == "FR" and session["country_name"] == "France"
    assert session["on_cloud"] == "N" and session["tracking_mode"] == "process"


def test_cloud_columns(tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    write_csv(make_report(region=AWS_IE), path)
    row = _read(path)[-1]
    assert (row["cloud_provider"], row["cloud_region"], row["on_cloud"]) == ("aws", "eu-west-1", "Y")
    assert float(row["pue"]) == pytest.approx(1.15)
    assert row["country_iso_code"] == ""


# ---------------------------------------------------------------- a log of runs, as CodeCarbon's file is


def test_the_log_gains_one_row_a_run_and_its_header_once(tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    reports = [make_report([("t.py::a", 1.0 + n)], run_id=f"{n:032x}") for n in range(3)]
    for report in reports:
        write_csv(report, path)
    text = path.read_text(encoding="utf-8")
    assert text.count("timestamp,project_name") == 1
    rows = _read(path)
    assert [r["run_id"] for r in rows] == [r["run"]["id"] for r in reports]
    assert {r["experiment_id"] for r in rows} == {SESSION_ID}
    # summing the column gives the total of the runs, as with CodeCarbon's emissions.csv
    total_kg = sum(float(r["emissions"]) for r in rows)
    assert total_kg == pytest.approx(sum(r["session"]["co2_g"] for r in reports) / 1000)


def test_the_tests_file_sums_to_the_tests_total(tmp_path: Path) -> None:
    report = make_report([("t.py::a", 1.0), ("t.py::b", 2.0), ("t.py::c", 4.0)], remainder_j=0.5)
    path = tmp_path / "tests.csv"
    write_tests_csv(report, path)
    write_tests_csv(report, path)  # replaced, not appended: the latest run's tests
    rows = _read(path)
    assert len(rows) == 3 and SESSION_ID not in {r["experiment_id"] for r in rows}
    summed_kwh = sum(float(r["energy_consumed"]) for r in rows)
    assert summed_kwh * 3.6e6 == pytest.approx(report["session"]["tests_energy_j"])
    remainder = report["session"]["unattributed_energy_j"]
    assert summed_kwh * 3.6e6 + remainder == pytest.approx(report["session"]["energy_j"])


def test_a_log_without_its_last_line_end_is_continued_on_a_new_line(tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    write_csv(make_report(run_id="1" * 32), path)
    path.write_bytes(path.read_bytes().rstrip(b"\r\n"))
    write_csv(make_report(run_id="2" * 32), path)
    assert [r["run_id"] for r in _read(path)] == ["1" * 32, "2" * 32]


def test_a_file_with_other_columns_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "emissions.csv"
    path.write_text("name,score\nalice,3\n", encoding="utf-8")
    with pytest.raises(OSError, match="holds other columns"):
        write_csv(make_report(), path)
    assert path.read_text(encoding="utf-8") == "name,score\nalice,3\n"


def test_a_link_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    link = tmp_path / "emissions.csv"
    link.symlink_to(target)
    write_csv(make_report(run_id="1" * 32), link)
    write_csv(make_report(run_id="2" * 32), link)
    assert link.is_symlink() and len(_read(target)) == 2


def test_a_fifo_gets_the_header_and_the_row(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "emissions.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the write
    try:
        write_csv(make_report(), fifo)
        got = os.read(reader, 1 << 16).decode("utf-8")
    finally:
        os.close(reader)
    rows = list(csv.DictReader(got.splitlines()))
    assert [r["experiment_id"] for r in rows] == [SESSION_ID]
    assert fifo.is_fifo()


def test_a_character_device_is_written_through_never_replaced(tmp_path: Path) -> None:
    import os
    import stat

    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a null device of our own, inside tmp_path
    write_csv(make_report(), node)
    assert stat.S_ISCHR(os.stat(node).st_mode)


def test_two_runs_appending_at_once_keep_whole_rows(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    path = tmp_path / "emissions.csv"
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_append_one, [(str(path), n) for n in range(24)]))
    text = path.read_text(encoding="utf-8")
    assert text.count("timestamp,project_name") == 1
    rows = _read(path)
    assert sorted(r["run_id"] for r in rows) == sorted(f"{n:032x}" for n in range(24))


def _append_one(job: tuple[str, int]) -> None:
    path, n = job
    write_csv(make_report(run_id=f"{n:032x}"), path)


def test_the_plugin_appends_a_run_and_writes_the_tests(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_two="def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    for _ in range(2):
        result = carbon_pytester.runpytest(
            "--carbon", "--carbon-csv=emissions.csv", "--carbon-csv-tests=tests.csv", "--carbon-json=r.json"
        )
        assert result.ret == 0
    runs = _read(carbon_pytester.path / "emissions.csv")
    tests = _read(carbon_pytester.path / "tests.csv")
    assert len(runs) == 2 and len({r["run_id"] for r in runs}) == 2
    assert [r["experiment_id"] for r in tests] == ["test_two.py::test_a", "test_two.py::test_b"]
    assert {r["run_id"] for r in tests} == {runs[-1]["run_id"]}
