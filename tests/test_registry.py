"""The renderer registry (``pytest_carbon.reports``) and the text every format shares (``pytest_carbon.model``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from reportdata import FR, make_report

from pytest_carbon import reports
from pytest_carbon.reports.csv import render_tests_csv
from pytest_carbon.reports.html import render_html
from pytest_carbon.reports.json import dumps
from pytest_carbon.reports.junit import render_junit
from pytest_carbon.reports.markdown import render_markdown


def _report() -> dict[str, object]:
    return make_report([("t.py::a", 2.0), ("t.py::b", 1.0)])


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("json", dumps),
        ("junit", render_junit),
        ("markdown", lambda r: render_markdown(r, top=1)),
        ("csv_tests", render_tests_csv),
        ("html", lambda r: render_html(r, 1)),
    ],
)
def test_each_artefact_is_what_its_renderer_writes(name: str, render: object, tmp_path: Path) -> None:
    report = _report()
    path = tmp_path / f"out.{name}"
    reports.write(name, report, path, top=1)
    assert path.read_bytes() == render(report).encode("utf-8")  # type: ignore[operator]


def test_the_job_summary_is_appended_and_the_csv_log_grows(tmp_path: Path) -> None:
    report = _report()
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    reports.write("job_summary", report, summary, top=1)
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + render_markdown(report, top=1) + "\n"
    log = tmp_path / "emissions.csv"
    reports.write("csv", report, log)
    reports.write("csv", report, log)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3  # one header, one row a run


def test_every_artefact_has_a_name_for_messages() -> None:
    assert set(reports.ARTEFACTS) == {"json", "junit", "markdown", "csv", "csv_tests", "html", "job_summary"}
    assert reports.what("junit") == "JUnit XML" and reports.what("job_summary") == "job summary"
    with pytest.raises(KeyError):
        reports.write("pdf", _report(), "x.pdf")


def test_the_registry_imports_no_renderer_until_one_is_written() -> None:
    code = (
        "import sys, pytest_carbon.reports as r; "
        "print(sorted(m for m in sys.modules if m.startswith('pytest_carbon.reports.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # the shared text (region and probe lines) is no renderer: the registry re-exports it
    assert out.strip() == "['pytest_carbon.reports.text']"


def test_the_job_summary_switch() -> None:
    env = {"GITHUB_STEP_SUMMARY": "/tmp/x/summary.md"}
    assert reports.job_summary_path(True, env) == "/tmp/x/summary.md"
    assert reports.job_summary_path(False, env) is None
    assert reports.job_summary_path(True, {}) is None
    assert reports.job_summary_path(True, {"GITHUB_STEP_SUMMARY": ""}) is None


def test_one_region_sentence_in_every_format() -> None:
    text = reports.region_text(FR)
    assert text.startswith("FR (France): 41.44 g/kWh from OWID/Ember 2025")
    assert text.endswith("PUE 1.0; chosen by command line")
    report = _report()
    assert f"- **Region**: {text}" in render_markdown(report)
    assert "<code>FR</code> (France): 41.44 g/kWh from OWID/Ember 2025" in render_html(report)


def test_region_sentence_of_an_unknown_a_merged_and_no_region() -> None:
    unknown = {**FR, "code": None, "known": False, "intensity_g_per_kwh": 473.0, "note": None}
    assert reports.region_text(unknown) == (
        "unknown: the world average 473.0 g/kWh was used (OWID/Ember 2025); set --carbon-region for a real figure"
    )
    noted = {**unknown, "note": "Set it with --carbon-region=CODE."}
    assert reports.region_text(noted).endswith("(OWID/Ember 2025). Set it with --carbon-region=CODE.")
    merged = {"source": "merged", "name": "2 shards", "intensity_g_per_kwh": 123.456789, "pue": 1.0625}
    assert reports.region_text(merged) == "2 shards: 123.5 g/kWh on average over the shards, PUE 1.062"
    assert reports.region_text({}) == "no region: CO2e figures are 0"
    assert reports.region_text(FR, escape=str.upper, code=lambda t: f"[{t}]").startswith("[FR] (FRANCE): ")


def test_probe_sentence() -> None:
    probe = {"name": "rapl", "components": ["cpu", "ram"], "measured": True}
    assert reports.probe_text(probe, ", ±2 % P50") == "rapl (cpu, ram: measured, ±2 % P50)"
    failed = {**probe, "measured": False, "error": "gone"}
    assert reports.probe_text(failed, "") == "rapl (cpu, ram: estimated) FAILED during the session (see missing)"


def test_quantities_in_their_unit() -> None:
    from pytest_carbon.units import format_quantity

    assert format_quantity(0.0123, "energy") == "12.3 mJ"
    assert format_quantity(0.0123, "reference") == "12.3 mJ"
    assert format_quantity(0.0072, "co2") == "7.2 mg CO2e"
