"""``pytest-carbon compare BASE.json NEW.json``: the deltas, and exit 1 over a threshold."""

from __future__ import annotations

import argparse
import json

from pytest_carbon.commands import count
from pytest_carbon.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    parser.add_argument("base", metavar="BASE.json", help="the baseline report")
    parser.add_argument("new", metavar="NEW.json", help="the report to check")
    parser.add_argument(
        "--fail",
        metavar="PERCENT",
        default=None,
        help='exit 1 when the session or a test rose by more than PERCENT ("15%%" or "15"; a bare number is per cent)',
    )
    parser.add_argument(
        "--metric",
        choices=("reference", "energy", "co2"),
        default="reference",
        help="judge the reference figure (default: CPU time corrected for the machine's speed), energy or CO2e",
    )
    parser.add_argument(
        "--alpha", metavar="LEVEL", type=float, default=0.05, help="significance level of the verdict (default 0.05)"
    )
    parser.add_argument("--top", metavar="N", type=count, default=10, help="regressions listed (default 10)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def run(args: argparse.Namespace) -> int:
    """Print the deltas; 1 when a regression passes the --fail threshold, 2 for bad input."""
    from pytest_carbon.compare import compare
    from pytest_carbon.model import load_report
    from pytest_carbon.units import QuantityError, parse_percent

    threshold = None
    if args.fail is not None:
        try:
            threshold = parse_percent(args.fail)
        except QuantityError as err:
            raise err.within("--fail") from None
    base = load_report(args.base)
    new = load_report(args.new)
    if not 0 < args.alpha < 1:
        raise ConfigError("--alpha: expected a number between 0 and 1, for example 0.05")
    result = compare(base, new, threshold=threshold, metric=args.metric, alpha=args.alpha)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        from pytest_carbon.summary import printable

        for line in result.lines(top=args.top):
            print(printable(line))
    return 1 if result.fails else 0
