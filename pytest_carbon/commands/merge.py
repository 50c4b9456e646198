"""``pytest-carbon merge``: one report from the shards of a suite run on several machines."""

from __future__ import annotations

import argparse
import sys

from pytest_carbon.commands import reading_reports
from pytest_carbon.errors import ConfigError, OutputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    parser.add_argument("reports", metavar="SHARD.json", nargs="+", help="JSON reports written by pytest --carbon-json")
    parser.add_argument("-o", "--output", metavar="ALL.json", required=True, help="where to write the merged report")
    parser.add_argument(
        "--budget",
        metavar="QUANTITY",
        help='a budget for the merged session total, an energy or a CO2e mass ("300 J", "2 kWh", "5 g"); '
        "exit 1 when the total is over it",
    )
    parser.add_argument(
        "--name",
        dest="names",
        metavar="NAME",
        action="append",
        help="a name for each shard, in the order of the files (default: the file names without .json)",
    )


def run(args: argparse.Namespace) -> int:
    """Merge, write the merged report, and check the budget; 0 ok, 1 over budget, 2 bad input."""
    from pytest_carbon.budget import budget_from, check, how_obtained
    from pytest_carbon.merge import merge_reports, shard_names
    from pytest_carbon.model import load_json
    from pytest_carbon.outputs import check_output_path
    from pytest_carbon.reports.json import write_json
    from pytest_carbon.units import format_co2, format_energy

    try:
        check_output_path(args.output, example="all.json")
    except OutputError as err:
        raise err.within("-o") from None
    budget = None if args.budget is None else budget_from(args.budget, "--budget")
    paths: list[str] = list(args.reports)
    if args.names is not None:
        if len(args.names) != len(paths):
            raise ConfigError(f"{len(args.names)} --name value(s) for {len(paths)} report(s): give one name per report")
        names = list(args.names)
    else:
        names = shard_names(paths)
    with reading_reports():
        reports = [load_json(path) for path in paths]
        merged = merge_reports(reports, names)

    session = merged["session"]
    verdict = None
    if budget is not None:
        probes = ", ".join(dict.fromkeys(how_obtained([p], None, "energy") for p in merged["machine"]["probes"]))
        regions = ", ".join(dict.fromkeys(str(s["region"] or "unknown region") for s in merged["run"]["shards"]))
        how = f"sum of {len(names)} shard(s): {probes or 'no energy probe'}"
        if budget.kind == "co2":
            how += f"; each test at its own region's intensity ({regions})"
        verdict = check("session", session, budget, how)
        merged["budget"] = {
            "mode": "fail",
            "session": verdict.to_dict(),
            "tests_with_budget": 0,
            "tests_exceeded": [],
            "failed": verdict.exceeded,
        }
    try:
        write_json(merged, args.output)
    except OSError as err:
        raise OutputError(f"cannot write {args.output}: {err.strerror or err}") from None

    print(
        f"merged {len(names)} shard(s), {len(merged['tests'])} test(s): {format_energy(session['energy_j'])}, "
        f"{format_co2(session['co2_g'])} CO2e -> {'standard output' if args.output == '-' else args.output}",
        file=sys.stderr if args.output == "-" else sys.stdout,
    )
    from pytest_carbon.summary import printable

    for line in merged["warnings"]:
        print(printable(f"warning: {line}"), file=sys.stderr)
    if verdict is None:
        return 0
    print(verdict.text())
    return 1 if verdict.exceeded else 0
