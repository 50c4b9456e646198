"""``pytest-carbon history``: list the stored runs of a project, newest first."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pytest_carbon.commands import count
from pytest_carbon.commands.store import add_store_argument
from pytest_carbon.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    add_store_argument(parser)
    parser.add_argument("--project", metavar="P", help="only this project")
    parser.add_argument("--branch", metavar="B", help="only this branch")
    parser.add_argument("--organisation", metavar="O", help="only this organisation")
    parser.add_argument("--limit", metavar="N", type=count, default=20, help="newest N runs (default 20, 0: all)")
    parser.add_argument("--json", action="store_true", help="print the runs as a JSON list")


def _line(run: dict[str, Any]) -> str:
    from pytest_carbon.units import format_co2, format_energy

    commit = (run.get("commit") or "")[:10] or "-"
    state = "" if run["complete"] else " (incomplete)"
    return (
        f"{run['started_at'] or '?':<20}  {run['project'][:24]:<24}  {(run['branch'] or '-')[:20]:<20}  {commit:<10}  "
        f"{format_co2(run['co2_g'] or 0.0):>10}  {format_energy(run['energy_j'] or 0.0):>10}  "
        f"{run['test_count'] or 0:>6} tests  {run['failed_count'] or 0:>4} failed  {run['error_count']:>4} errors  "
        f"{run['region_code'] or 'unknown'}{state}"
    )


def _split_errors(store: Any, runs: list[dict[str, Any]]) -> None:
    """Count errors apart from failures, as pytest does (the runs' ``failed_count`` holds both)."""
    ids = [run["id"] for run in runs]
    errors: dict[str, int] = {}
    for start in range(0, len(ids), 500):  # within any database's limit of query parameters
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT run_id, COUNT(*) FROM tests WHERE outcome = 'error' AND run_id IN ({marks}) GROUP BY run_id"
        errors.update((str(run_id), int(count)) for run_id, count in store._query(store._sql(sql), chunk))
    for run in runs:
        run["error_count"] = errors.get(run["id"], 0)
        run["failed_count"] = max((run["failed_count"] or 0) - run["error_count"], 0)


def run(args: argparse.Namespace) -> int:
    """Print the runs, as a table or as JSON."""
    from pytest_carbon.store import NoHistory, StoreError, open_store, project_root, url_from_env

    if args.limit < 0:
        raise ConfigError("--limit is a whole number of 0 or more")
    try:
        with open_store(url_from_env(args.store), project_root(Path.cwd()), read_only=True) as store:
            runs = store.runs(
                project=args.project,
                branch=args.branch,
                limit=args.limit or None,
                organisation=args.organisation,
            )
            _split_errors(store, runs)
            where = store.where
    except NoHistory as err:
        print("[]" if args.json else f"no stored runs: {err}")
        return 0
    except StoreError as err:
        print(f"pytest-carbon history: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(runs, indent=2, ensure_ascii=False))
        return 0
    if not runs:
        print(f"no stored runs in {where}" + (" that match" if args.project or args.branch else ""))
        return 0
    print(
        f"{'started (UTC)':<20}  {'project':<24}  {'branch':<20}  {'commit':<10}  {'CO2e':>10}  {'energy':>10}  tests"
    )
    for entry in runs:
        print(_line(entry))
    return 0
