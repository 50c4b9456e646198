"""``pytest-carbon regions``: search region codes and their grid intensity, or cleaner alternatives."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_carbon.errors import ConfigError


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number of 1 or more, for example 5") from None
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number of 1 or more, for example 5")
    return value


def _providers(text: str) -> tuple[str, ...]:
    from pytest_carbon.advice import parse_providers

    try:
        return parse_providers(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    parser.add_argument(
        "query", nargs="?", default="", help="part of a code or a name (FR, zone:DE, aws:eu, Sweden); empty: all"
    )
    parser.add_argument("--json", action="store_true", help="print the regions as JSON, for scripts")
    parser.add_argument(
        "--greener-than",
        metavar="CODE",
        default=None,
        help="list the cloud regions (AWS, Azure, GCP) with a lower intensity than CODE, by the rule of the "
        "reports' advice: the same provider's first, never a country's grid",
    )
    parser.add_argument(
        "--providers",
        type=_providers,
        default=None,
        metavar="LIST",
        help="with --greener-than: the providers to consider, comma-separated (aws,azure,gcp; default all)",
    )
    parser.add_argument("--limit", type=_limit, default=None, help="show at most N regions (--greener-than: 3)")


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    cells = [[title for _, title in columns]]
    cells += [["" if row[key] is None else str(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip() for line in cells
    )


def run(args: argparse.Namespace) -> int:
    """Print matching regions (exit 1 when none match) or greener alternatives (exit 2 for an unknown code)."""
    from pytest_carbon.intensity import RegionError, lookup, search
    from pytest_carbon.intensity.regions import find_row

    if args.greener_than is None and args.providers is not None:
        raise ConfigError("--providers goes with --greener-than CODE")
    if args.greener_than is not None:
        from pytest_carbon.advice import BEST, PROVIDERS, advise

        base = lookup(args.greener_than)  # RegionError: its message, exit 2
        found = advise(base.to_dict(), providers=args.providers or PROVIDERS, limit=args.limit or BEST)["regions"]
        if args.json:
            print(json.dumps({"region": base.to_dict(), "greener": found}, indent=2))
            return 0
        print(
            f"{base.code or 'world'} {base.name}: {base.intensity_g_per_kwh:g} g/kWh "
            f"({base.intensity_source}, {base.year}, {base.basis})"
        )
        if not found:
            print("no cloud region of these providers in the tables has a lower intensity")
            return 0
        for row in found:
            row["intensity"] = f"{row['intensity_g_per_kwh']:g}"
            row["cut"] = f"-{row['cut_pct']:g} %"
        columns = [("provider", "provider"), ("code", "code"), ("name", "name"), ("intensity", "g/kWh"), ("cut", "cut")]
        print(_table(found, [*columns, ("source", "source"), ("year", "year")]))
        return 0

    rows = search(args.query)
    if not rows and args.query.strip():
        try:
            rows = [find_row(args.query)]
        except RegionError as err:
            print(str(err).replace("unknown region", "no region matches", 1), file=sys.stderr)
            return 1
    if args.limit is not None:
        rows = rows[: args.limit]
    entries = [
        {
            "code": row.code,
            "name": row.name,
            "intensity_g_per_kwh": row.g_per_kwh,
            "source": row.source,
            "year": row.year,
            "basis": row.basis,
            "table": row.table,
            "provider": row.provider,
        }
        for row in rows
    ]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        entry["intensity"] = f"{entry['intensity_g_per_kwh']:g}"
    columns = [("code", "code"), ("name", "name"), ("intensity", "g/kWh"), ("source", "source")]
    print(_table(entries, [*columns, ("year", "year"), ("basis", "basis")]))
    return 0
