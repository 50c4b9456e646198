"""Renderers: each turns the report (``pytest_carbon.model.Report``) into one artefact format.

The registry below is the one place that maps an artefact to the function that writes it, all
with one signature, ``write(report, path, top)``: the end of a pytest session and the
``pytest-carbon report`` command both write through it. A renderer's module is imported only
when its artefact is written, so a run that asks for none pays for none.

The text every format shares (the region, how a probe obtained its figures) is written once
here too: ``region_text`` and ``probe_text``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

#: the one signature of a renderer: the report, where to write it (``-``: standard output where
#: the format allows it), and how many tests a format that lists the top tests shows
Write = Callable[[dict[str, Any], str, int], None]


class Artefact(NamedTuple):
    """One artefact format: how messages name it, and the function that writes it."""

    what: str
    write: Write


def _json(report: dict[str, Any], path: str, top: int) -> None:
    from pytest_carbon.reports.json import write_json

    write_json(report, path)


def _junit(report: dict[str, Any], path: str, top: int) -> None:
    from pytest_carbon.reports.junit import write_junit

    write_junit(report, path)


def _markdown(report: dict[str, Any], path: str, top: int) -> None:
    from pytest_carbon.reports.markdown import write_markdown

    write_markdown(report, path, top=top)


def _job_summary(report: dict[str, Any], path: str, top: int) -> None:
    from pytest_carbon.reports.markdown import append_markdown

    append_markdown(report, path, top=top)


def _csv(report: dict[str, Any], path: str, top: int) -> None:
    from pytest_carbon.reports.csv import write_csv

    write_csv(report, path)


def _csv_tests(report: dict[str, Any], path: str, top: int) -> None:
    from pytest_carbon.reports.csv import write_tests_csv

    write_tests_csv(report, path)


def _html(report: dict[str, Any], path: str, top: int) -> None:
    from pytest_carbon.reports.html import write_html

    write_html(report, path, top=top)


#: every artefact, by the name its option and the registry use
ARTEFACTS: dict[str, Artefact] = {
    "json": Artefact("JSON report", _json),
    "junit": Artefact("JUnit XML", _junit),
    "markdown": Artefact("Markdown", _markdown),
    "csv": Artefact("CSV", _csv),
    "csv_tests": Artefact("CSV of the tests", _csv_tests),
    "html": Artefact("HTML page", _html),
    "job_summary": Artefact("job summary", _job_summary),
}


def what(name: str) -> str:
    """How messages name the artefact ``name`` ("JUnit XML")."""
    return ARTEFACTS[name].what


def write(name: str, report: dict[str, Any], path: str | os.PathLike[str], *, top: int = 10) -> None:
    """Write the artefact ``name`` of ``report`` to ``path``; OSError when it cannot be written."""
    ARTEFACTS[name].write(report, os.fspath(path), top)


def job_summary_path(wanted: object, environ: Mapping[str, str] = os.environ) -> str | None:
    """GitHub's job summary file, where the job has one and it is wanted (``--carbon-github-summary``)."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    return path if path and wanted else None


# ---------------------------------------------------------------------------------------- shared text
# The words every format (the terminal, Markdown, HTML, the header) uses for the same facts,
# written once; each format passes its own escaping (``escape``: data as text of that format)
# and its markup for code (``code``). Here, not in a renderer's module: this package is imported
# at start-up anyway (the header's region line), a renderer's module only when it writes.


def _same(text: str) -> str:
    return text


def _merged_figure(value: Any) -> str:
    """A merged report's averaged figure (unrounded in the report) at 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def region_text(
    region: Mapping[str, Any],
    *,
    escape: Callable[[str], str] = _same,
    code: Callable[[str], str] = _same,
) -> str:
    """Where the tests ran and the intensity used, in one sentence (no final stop).

    ``escape`` turns data (a name, a source) into text of the format, ``code`` marks up a code or
    an option name that ``escape`` already made safe; both leave text as it is by default (the
    terminal).
    """

    def data(value: Any) -> str:
        return escape("" if value is None else str(value))

    if not region:
        return "no region: CO2e figures are 0"
    intensity = region.get("intensity_g_per_kwh")
    if region.get("source") == "merged":
        return (
            f"{data(region.get('name') or 'merged shards')}: {_merged_figure(intensity)} g/kWh on average "
            f"over the shards, PUE {_merged_figure(region.get('pue'))}"
        )
    if not region.get("known", True) or not region.get("code"):
        text = (
            f"unknown: the world average {data(intensity)} g/kWh was used "
            f"({data(region.get('intensity_source'))} {data(region.get('year'))})"
        )
        note = region.get("note")
        return text + (f". {data(note)}" if note else f"; set {code('--carbon-region')} for a real figure")
    live = ", live" if region.get("live") else ""
    basis = f" ({data(region['basis'])})" if region.get("basis") else ""
    note = f". {data(region['note'])}" if region.get("note") else ""
    return (
        f"{code(data(region.get('code')))} ({data(region.get('name') or region.get('table'))}): "
        f"{data(intensity)} g/kWh{live} from {data(region.get('intensity_source'))} {data(region.get('year'))}"
        f"{basis}, PUE {data(region.get('pue'))}; chosen by {data(region.get('source'))}{note}"
    )


def probe_text(probe: Mapping[str, Any], band: str, *, escape: Callable[[str], str] = _same) -> str:
    """How a probe obtained its figures: "rapl (cpu, ram: measured, ±2 % P50, ±5 % P90)".

    ``band`` is the probe's band as text (``probes.bands.probe_band_text``); a probe that failed
    during the session says so (the report's ``missing`` says what it lost).
    """
    how = "measured" if probe.get("measured") else "estimated"
    comps = escape(", ".join(str(c) for c in probe.get("components") or []))
    text = f"{escape(str(probe.get('name')))} ({comps}: {how}{band})"
    if probe.get("error"):
        text += " FAILED during the session (see missing)"
    return text
