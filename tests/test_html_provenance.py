"""The HTML page says how each figure was obtained, as the Markdown does (read back by parsers and Chromium)."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from reportdata import FR, MODEL_PROBE, make_report

from pytest_carbon.reports.html import render_html
from pytest_carbon.reports.markdown import render_markdown
from pytest_carbon.units import format_energy

RAPL_PROBE = {
    "name": "rapl",
    "components": ["cpu", "ram"],
    "measured": True,
    "inputs": {},
    "notes": [],
    "error": None,
    "band": {"p50_pct": None, "p90_pct": None, "basis": "not quantified"},
}
NVML_PROBE = {
    "name": "nvml",
    "components": ["gpu"],
    "measured": True,
    "inputs": {},
    "notes": [],
    "error": "NVML went away",
    "band": {"p50_pct": 5.0, "p90_pct": 5.0, "basis": "NVIDIA"},
}


class Provenance(HTMLParser):
    """The text of the provenance section and of each of its probe items."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.text = ""
        self.probes: list[str] = []
        self.region = ""
        self._where: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag == "section" and "provenance" in classes:
            self.depth = 1
        elif self.depth:
            self.depth += 1
            if tag == "li" and "probe" in classes:
                self.probes.append("")
                self._where.append("probe")
            elif tag == "p" and "region" in classes:
                self._where.append("region")
            else:
                self._where.append("")

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if self._where:
                self._where.pop()

    def handle_data(self, data: str) -> None:
        if not self.depth:
            return
        self.text += data
        if "probe" in self._where:
            self.probes[-1] += data
        if "region" in self._where:
            self.region += data


def _report() -> dict[str, object]:
    model = dict(copy.deepcopy(MODEL_PROBE), band={"p50_pct": 13.0, "p90_pct": 34.0, "basis": "held-out"})
    report = make_report([("t.py::a", 2.0), ("t.py::b", 1.0)], remainder_j=0.75, probes=(model, RAPL_PROBE, NVML_PROBE))
    report["session"]["band"] = {"p50_pct": 10.0, "p90_pct": 27.0, "basis": "weighted"}  # type: ignore[index]
    return report


def test_the_page_says_how_each_figure_was_obtained() -> None:
    found = Provenance(render_html(_report()))
    assert found.depth == 0 and "How these figures were obtained" in found.text
    assert found.probes[0] == "model (cpu, ram): estimated, ±13 % P50, ±34 % P90"
    assert found.probes[1] == "rapl (cpu, ram): measured, band not quantified"
    assert (
        found.probes[2].startswith("nvml (gpu): measured, ±5 % P50, ±5 % P90")
        and "failed: NVML went away" in found.probes[2]
    )
    assert f"Energy: {format_energy(3.75)} ± 27 %" in found.text and "P90 error band" in found.text
    assert f"remainder (collection, plugin work, gaps) {format_energy(0.75)}" in found.text
    assert f"tests {format_energy(3.0)}" in found.text
    assert found.region.startswith("Region: FR (France): 41.44 g/kWh from OWID/Ember 2025")
    assert "PUE 1.0; chosen by command line" in found.region


def test_the_page_and_the_markdown_tell_the_same_provenance() -> None:
    report = _report()
    page = Provenance(render_html(report))
    markdown = re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").render(render_markdown(report)))
    how = next(line for line in markdown.splitlines() if line.startswith("How: "))
    for probe in page.probes:
        name, rest = probe.split(" (", 1)
        components, told = rest.split("): ", 1)
        told = told.split(" failed:")[0]
        assert f"{name} ({components}: {told})" in how
    assert format_energy(0.75) in markdown and format_energy(0.75) in page.text
    assert "41.44 g/kWh from OWID/Ember 2025" in markdown and "41.44 g/kWh from OWID/Ember 2025" in page.region


def test_an_unknown_region_and_no_band_are_said() -> None:
    region = dict(FR, code=None, known=False, name=None, intensity_g_per_kwh=473.0, intensity_source="OWID/Ember")
    report = make_report(region=region, probes=(RAPL_PROBE,))
    found = Provenance(render_html(report))
    assert "no quantified error band" in found.text
    assert found.region.startswith("Region: unknown: the world average 473.0 g/kWh was used (OWID/Ember 2025)")


def test_a_real_run_page_in_chromium(carbon_pytester: pytest.Pytester, tmp_path: Path) -> None:
    from test_dashboard import Dom, run_chromium

    carbon_pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = carbon_pytester.runpytest("--carbon", "--carbon-region=FR", "--carbon-html=r.html", "--carbon-store=off")
    assert result.ret == 0
    page = carbon_pytester.path / "r.html"
    dom = run_chromium(page, tmp_path, "--dump-dom")
    found = Provenance(dom)
    assert found.probes == ["fixed (cpu, ram): estimated"]
    assert found.region.startswith("Region: FR (France): ")
    assert "remainder (collection, plugin work, gaps)" in Dom(dom).text
