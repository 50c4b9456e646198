"""Renderers: each turns the report (``pytest_carbon.model.Report``) into one artefact format.

The registry below is the one place that maps an artefact to the function that writes it, all
with one signature, ``write(report, path, top)``: the end of a pytest session and the
``pytest-carbon report`` command both write through it. A renderer's module is imported only
when its artefact is written, so a run that asks for none pays for none.

The text every format shares (the region, how a probe obtained its figures) is written once, in
``pytest_carbon.reports.text``; ``region_text`` and ``probe_text`` are re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from pytest_carbon.reports.text import probe_text as probe_text
from pytest_carbon.reports.text import region_text as region_text

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
