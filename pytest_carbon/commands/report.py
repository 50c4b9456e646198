"""``pytest-carbon report``: render Markdown, JUnit or CSV from a saved JSON report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pytest_carbon.commands import count, reading_reports
from pytest_carbon.errors import OutputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    parser.add_argument("report", metavar="REPORT.json", help="a JSON report written by pytest --carbon-json")
    parser.add_argument("--markdown", metavar="PATH", help="write the Markdown summary to PATH (- for the terminal)")
    parser.add_argument("--junit", metavar="PATH", help="write the JUnit XML to PATH")
    parser.add_argument(
        "--csv", metavar="PATH", help="add the run's row to the CSV log at PATH (CodeCarbon's emissions.csv columns)"
    )
    parser.add_argument("--csv-tests", metavar="PATH", help="write one CSV row per test to PATH (no session row)")
    parser.add_argument("--top", metavar="N", type=count, default=10, help="tests listed in the Markdown (default 10)")


def load_report(path: str) -> dict[str, Any]:
    """Read a saved report and check the keys the renderers need; ReportError (a ValueError) with a clear message."""
    from pytest_carbon.reports.json import check_report, load_json

    with reading_reports():
        report = load_json(path)
        check_report(report, path)
    session = report["session"]
    tests = report["tests"]
    for test in tests:
        test.setdefault("duration_s", 0.0)
        test.setdefault("components_j", {})
    session.setdefault("duration_s", 0.0)
    session.setdefault("tests_energy_j", sum(float(t["energy_j"]) for t in tests))
    session.setdefault("unattributed_energy_j", float(session["energy_j"]) - float(session["tests_energy_j"]))
    report.setdefault("machine", {"probes": []})
    report.setdefault("region", {})
    return report


def run(args: argparse.Namespace) -> int:
    """Render the artefacts asked for; Markdown on the terminal when nothing is asked."""
    report = load_report(args.report)
    markdown = args.markdown
    if markdown is None and args.junit is None and args.csv is None and args.csv_tests is None:
        markdown = "-"
    from pytest_carbon.outputs import check_output_path

    asked = (("--markdown", markdown), ("--junit", args.junit), ("--csv", args.csv), ("--csv-tests", args.csv_tests))
    for flag, value in asked:
        if value is not None:
            try:
                check_output_path(value, example="carbon" + {"--markdown": ".md", "--junit": ".xml"}.get(flag, ".csv"))
            except OutputError as err:
                raise err.within(flag) from None
    written = []
    try:
        if markdown == "-":
            from pytest_carbon.reports.markdown import render_markdown

            sys.stdout.write(render_markdown(report, top=args.top))
        elif markdown:
            from pytest_carbon.reports.markdown import write_markdown

            write_markdown(report, markdown, top=args.top)
            written.append(markdown)
        if args.junit:
            from pytest_carbon.reports.junit import write_junit

            write_junit(report, args.junit)
            written.append(args.junit)
        if args.csv:
            from pytest_carbon.reports.csv import write_csv

            write_csv(report, args.csv)
            written.append(args.csv)
        if args.csv_tests:
            from pytest_carbon.reports.csv import write_tests_csv

            write_tests_csv(report, args.csv_tests)
            written.append(args.csv_tests)
    except BrokenPipeError:
        raise  # the terminal's reader has gone: pytest_carbon.cli ends quietly
    except OSError as err:
        raise OutputError(f"cannot write {err.filename or ''}: {err.strerror or err}") from None
    for path in written:
        if path != "-":
            print(f"wrote {path}", file=sys.stderr)
    return 0
