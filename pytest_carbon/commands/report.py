"""``pytest-carbon report``: render Markdown, JUnit or CSV from a saved JSON report."""

from __future__ import annotations

import argparse
import sys

from pytest_carbon.commands import count
from pytest_carbon.errors import OutputError
from pytest_carbon.model import load_report

__all__ = ["add_arguments", "load_report", "run"]


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


def run(args: argparse.Namespace) -> int:
    """Render the artefacts asked for; Markdown on the terminal when nothing is asked."""
    report = load_report(args.report)  # a ReportError, printed by the command line, for a bad file
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
    from pytest_carbon.reports import write

    written = []
    try:
        for name, path in (
            ("markdown", markdown),
            ("junit", args.junit),
            ("csv", args.csv),
            ("csv_tests", args.csv_tests),
        ):
            if path:
                write(name, report, path, top=args.top)
                written.append(path)
    except BrokenPipeError:
        raise  # the terminal's reader has gone: pytest_carbon.cli ends quietly
    except OSError as err:
        raise OutputError(f"cannot write {err.filename or ''}: {err.strerror or err}") from None
    for path in written:
        if path != "-":
            print(f"wrote {path}", file=sys.stderr)
    return 0
