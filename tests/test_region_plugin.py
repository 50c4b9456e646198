"""The region in real inner sessions: CO2e from the region's figure, unknown regions, bad codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_report

from pytest_carbon.intensity.detect import REGION_VARIABLES

TESTS = """
import time


def test_work():
    end = time.process_time() + 0.02
    while time.process_time() < end:
        pass


def test_sleep():
    time.sleep(0.02)
"""


@pytest.fixture
def laptop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.Pytester:
    """No region variables and a laptop's firmware: nothing to detect, no network."""
    for _, variable in REGION_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("PYTEST_CARBON_REGION", raising=False)
    folder = tmp_path / "root" / "sys" / "class" / "dmi" / "id"
    folder.mkdir(parents=True)
    (folder / "sys_vendor").write_text("Dell Inc.\n", encoding="utf-8")
    monkeypatch.setenv("PYTEST_CARBON_SYS_ROOT", str(tmp_path / "root"))
    return pytester


@pytest.mark.parametrize(("code", "g_per_kwh", "pue"), [("FR", 41.44, 1.0), ("gcp:europe-west1", 103.37, 1.10)])
def test_co2_is_energy_times_pue_times_the_regions_figure(
    carbon_pytester: pytest.Pytester, laptop: pytest.Pytester, code: str, g_per_kwh: float, pue: float
) -> None:
    carbon_pytester.makepyfile(TESTS)
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest("--carbon", f"--carbon-json={path}", f"--carbon-region={code}")
    result.assert_outcomes(passed=2)
    report = load_report(path)
    region = report["region"]
    assert (region["code"], region["intensity_g_per_kwh"], region["pue"]) == (code, g_per_kwh, pue)
    assert region["source"] == "command line" and region["known"] is True
    assert report["session"]["energy_j"] > 0
    for item in [report["session"], *report["tests"]]:
        assert item["co2_g"] == pytest.approx(item["energy_j"] / 3.6e6 * pue * g_per_kwh, rel=1e-9, abs=1e-15)


def test_unknown_region_is_said_with_the_option_to_set_it(
    carbon_pytester: pytest.Pytester, laptop: pytest.Pytester
) -> None:
    carbon_pytester.makepyfile(TESTS)
    path = carbon_pytester.path / "carbon.json"
    result = carbon_pytester.runpytest("--carbon", f"--carbon-json={path}")
    result.assert_outcomes(passed=2)
    assert "unknown" in result.stdout.str() and "--carbon-region=CODE" in result.stdout.str()
    region = load_report(path)["region"]
    assert region["known"] is False and region["code"] is None and region["source"] == "unknown"
    assert region["intensity_g_per_kwh"] == 458.29 and "PYTEST_CARBON_REGION" in region["note"]


def test_region_from_the_ini_file(carbon_pytester: pytest.Pytester, laptop: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(TESTS)
    carbon_pytester.makeini("[pytest]\ncarbon_region = se-se3\n")
    path = carbon_pytester.path / "carbon.json"
    carbon_pytester.runpytest("--carbon", f"--carbon-json={path}").assert_outcomes(passed=2)
    region = load_report(path)["region"]
    assert (region["code"], region["source"], region["table"]) == ("SE-SE3", "ini", "grid_zones")


def test_unknown_code_is_a_usage_error(carbon_pytester: pytest.Pytester, laptop: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(TESTS)
    result = carbon_pytester.runpytest("--carbon", "--carbon-region=aws:eu-west-9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "aws:eu-west-1" in result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
