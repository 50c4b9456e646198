"""Error bands: per probe and per session in the JSON report, in the summary, the Markdown and the HTML."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
from conftest import load_report
from reportdata import MODEL_PROBE, make_report

from pytest_carbon.probes.bands import MEASURED, band_of, band_text, combined, probe_band_text
from pytest_carbon.reports.html import render_html
from pytest_carbon.reports.json import schema
from pytest_carbon.reports.markdown import render_markdown
from pytest_carbon.summary import summary_lines

MODEL_BAND = {"p50_pct": 12.6, "p90_pct": 34.3, "basis": "time split"}
RAPL = {"name": "rapl", "components": ["cpu", "ram"], "measured": True, "inputs": {}, "notes": []}
NVML = {"name": "nvml", "components": ["gpu"], "measured": True, "inputs": {}, "notes": []}


def test_band_of_a_probe() -> None:
    assert band_of(dict(MODEL_PROBE, band=MODEL_BAND)) == MODEL_BAND
    assert band_of(RAPL) == MEASURED["rapl"].as_dict() and MEASURED["rapl"].p90_pct is None
    assert band_of(NVML) == {"p50_pct": 5.0, "p90_pct": 5.0, "basis": MEASURED["nvml"].basis}
    assert band_of({"name": "someone-elses", "components": ["cpu"]}) is None


def test_session_band_is_energy_weighted() -> None:
    model = dict(MODEL_PROBE, components=["cpu", "ram"], band=MODEL_BAND)
    got = combined([model, NVML], {"cpu": 30.0, "ram": 10.0, "gpu": 60.0})
    assert got is not None
    assert got["p50_pct"] == pytest.approx((40 * 12.6 + 60 * 5.0) / 100, abs=0.01)
    assert got["p90_pct"] == pytest.approx((40 * 34.3 + 60 * 5.0) / 100, abs=0.01)
    assert got["unquantified"] == []
    rapl_only = combined([RAPL], {"cpu": 5.0, "ram": 1.0, "gpu": 0.0})
    assert rapl_only is not None and rapl_only["p90_pct"] is None and rapl_only["unquantified"] == ["rapl"]
    failed = dict(model, error="read failed")
    fallback = combined([failed, dict(model, name="model2", band={**MODEL_BAND, "p90_pct": 50.0})], {"cpu": 1.0})
    assert fallback is not None and fallback["p90_pct"] == 50.0  # the probe that did not fail
    assert combined([model], {"cpu": 0.0, "ram": 0.0}) is None


def test_texts() -> None:
    assert band_text({"p50_pct": 12.6, "p90_pct": 34.3}) == " ± 34 %"
    assert band_text(None) == "" and band_text({"p50_pct": None, "p90_pct": None}) == ""
    assert probe_band_text(dict(MODEL_PROBE, band=MODEL_BAND)) == ", ±13 % P50, ±34 % P90"
    assert probe_band_text(RAPL) == ", band not quantified"
    assert probe_band_text({"name": "x"}) == ""


def _report_with_bands() -> dict:
    report = make_report(probes=[dict(MODEL_PROBE, band=MODEL_BAND)])
    report["session"]["band"] = combined(report["machine"]["probes"], report["session"]["components_j"])
    return report


def test_summary_markdown_and_html_show_the_band() -> None:
    report = _report_with_bands()
    lines = summary_lines(report)
    assert " J ± 34 % over " in lines[0]
    assert any(line.startswith("probes: model (cpu, ram: estimated, ±13 % P50, ±34 % P90)") for line in lines)
    markdown = render_markdown(report)
    assert "± 34 %: tests" in markdown and "estimated, ±13 % P50, ±34 % P90" in markdown
    assert " ± 34 %</" in render_html(report)


def test_reports_without_bands_still_render() -> None:
    report = make_report()  # an older report, or a merged one: no band anywhere
    assert " ± " not in summary_lines(report)[0]
    assert " ± " not in render_markdown(report)
    assert render_html(report)
    jsonschema.validate(report, schema())
    with_nulls = copy.deepcopy(report)
    with_nulls["session"]["band"] = None
    with_nulls["machine"]["probes"][0]["band"] = None
    jsonschema.validate(with_nulls, schema())


def test_plugin_run_with_the_model_reports_its_band(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    sum(range(10000))\n\ndef test_two():\n    pass\n")
    path: Path = pytester.path / "carbon.json"
    result = pytester.runpytest(
        "--carbon", f"--carbon-json={path}", "--carbon-region=FR", "--carbon-probe=model", "--carbon-period=0.01"
    )
    result.assert_outcomes(passed=2)
    report = load_report(path)
    jsonschema.validate(report, schema())
    (probe,) = report["machine"]["probes"]
    assert probe["name"] == "model" and probe["band"]["p90_pct"] > probe["band"]["p50_pct"] > 0
    assert {"class", "year", "vendor", "host"} <= set(probe["inputs"])
    session_band = report["session"]["band"]
    assert session_band["p90_pct"] == pytest.approx(probe["band"]["p90_pct"])
    result.stdout.fnmatch_lines([f"carbon: * CO2e, * ± {probe['band']['p90_pct']:.0f} % over * s, 2 tests"])
    result.stdout.fnmatch_lines(["probes: model (cpu, ram: estimated, ±* % P50, ±* % P90)*"])
