"""``pytest-carbon store push REPORT.json``: store a saved report in the history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--store URL`` option shared by the history commands."""
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the history: postgresql://USER@HOST/DB (password in PGPASSWORD), sqlite:///PATH or a file path "
        "(default: PYTEST_CARBON_STORE, else .carbon/history.sqlite in the project's root folder, "
        "found from here as pytest finds it)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    push = sub.add_parser("push", help="store a JSON report written by pytest --carbon-json")
    push.add_argument("reports", metavar="REPORT.json", nargs="+", help="one or more saved JSON reports")
    add_store_argument(push)
    push.add_argument("--project", metavar="P", help="project name (default: the report's run.project)")
    push.add_argument("--organisation", metavar="O", help="organisation the run belongs to")


def run(args: argparse.Namespace) -> int:
    """Push each report; a report already stored is left as it is."""
    from pytest_carbon.commands import reading_reports
    from pytest_carbon.model import load_json
    from pytest_carbon.store import StoreError, open_store, project_root, url_from_env
    from pytest_carbon.store.schema import check_report

    reports = []
    for path in args.reports:
        with reading_reports(path):
            report = load_json(path)
            check_report(report)
        reports.append((path, report))
    try:
        with open_store(url_from_env(args.store), project_root(Path.cwd())) as store:
            for path, report in reports:
                if store.record(report, project=args.project, organisation=args.organisation):
                    print(f"stored {path} in {store.where}")
                else:
                    run_id = str(report["run"]["id"])
                    print(f"already stored: {path} (run {run_id[:12]}) is in {store.where}; left as it is")
    except StoreError as err:
        print(f"pytest-carbon store: {err}", file=sys.stderr)
        return 1
    return 0
