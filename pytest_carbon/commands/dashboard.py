"""``pytest-carbon dashboard -o DIR``: write the static dashboard site from the history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_carbon.commands import count
from pytest_carbon.commands.store import add_store_argument
from pytest_carbon.errors import ConfigError, OutputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    add_store_argument(parser)
    parser.add_argument("-o", "--output", metavar="DIR", required=True, help="folder to write the site into")
    parser.add_argument("--top", metavar="N", type=count, default=15, help="tests listed per project (default 15)")


def run(args: argparse.Namespace) -> int:
    """Render the site; print where index.html is."""
    from pytest_carbon.dashboard import write_dashboard
    from pytest_carbon.store import StoreError, open_store, project_root, url_from_env

    if args.output.strip() == "-":
        raise OutputError("the dashboard is a folder of pages; give a folder with -o")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file; give a folder with -o")
    if args.top < 0:
        raise ConfigError("--top is a whole number of 0 or more")
    try:
        with open_store(url_from_env(args.store), project_root(Path.cwd()), read_only=True) as store:
            index = write_dashboard(store, out, top=args.top)
    except StoreError as err:
        print(f"pytest-carbon dashboard: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        raise OutputError(f"cannot write into {out}: {err.strerror or err}") from None
    print(f"wrote {index}")
    return 0
