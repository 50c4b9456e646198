"""The CSV in CodeCarbon's columns and units, read back with the csv module."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from reportdata import AWS_IE, NASTY_IDS, make_report

from pytest_carbon.reports.csv import COLUMNS, SESSION_ID, write_csv


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_round_trip_with_nasty_ids(tmp_path: Path) -> None:
    report = make_report([(n, 1.0 + i) for i, n in enumerate(NASTY_IDS)])
    path = tmp_path / "emissions.csv"
    write_csv(report, path)
    rows = _read(path)
    assert [r["experiment_id"] for r in rows] == [*NASTY_IDS, SESSION_ID]
    for row, entry in zip(rows, report["tests"], strict=False):
        assert float(row["energy_consumed"]) == pytest.approx(entry["energy_j"] / 3.6e6)
        assert float(row["emissions"]) == pytest.approx(entry["co2_g"] / 1000)
        assert float(row["cpu_power"]) == pytest.approx(entry["components_j"]["cpu"] / entry["duration_s"])
        assert float(row["duration"]) == pytest.approx(entry["duration_s"])
    session = rows[-1]
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
