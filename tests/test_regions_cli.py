"""``pytest-carbon regions``: search, JSON output, greener alternatives, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pytest_carbon.cli import main


def test_search_lists_matching_regions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "sweden"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["code", "name", "g/kWh"]
    codes = {line.split()[0] for line in lines[1:]}
    assert {"SE", "zone:SE", "SE-SE3", "azure:swedencentral"} <= codes


def test_json_carries_source_year_and_basis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "FR", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    france = next(e for e in entries if e["code"] == "FR")
    assert france == {
        "code": "FR",
        "name": "France",
        "intensity_g_per_kwh": 41.44,
        "source": "OWID/Ember",
        "year": 2025,
        "basis": "generation, lifecycle",
        "table": "countries",
        "provider": None,
    }
    assert any(e["code"] == "zone:FR" and e["table"] == "grid_zones" for e in entries)


def test_limit_caps_the_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "--json", "--limit", "3"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_greener_than_cloud_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "--greener-than", "gcp:us-east1", "--limit", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["region"]["code"] == "gcp:us-east1"
    assert len(data["greener"]) == 4
    assert all(e["provider"] == "gcp" for e in data["greener"])
    assert all(e["intensity_g_per_kwh"] < data["region"]["intensity_g_per_kwh"] for e in data["greener"])


def test_greener_than_text_shows_the_cut(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "--greener-than", "DE"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("DE Germany:")
    assert " %" in out and len(out.splitlines()) == 2 + 3


def test_unknown_code_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "--greener-than", "aws:eu-west-9"]) == 2
    err = capsys.readouterr().err
    assert "aws:eu-west-1" in err and "Traceback" not in err


def test_no_match_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "qqqzzz"]) == 1
    assert "no region matches" in capsys.readouterr().err


def test_bad_limit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "--limit", "0"]) == 2
    assert "--limit" in capsys.readouterr().err


def test_console_script_runs_without_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_carbon.cli", "regions", "--greener-than", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown region" in result.stderr and "Traceback" not in result.stderr
