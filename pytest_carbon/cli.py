"""The ``pytest-carbon`` command: a thin dispatcher over subcommand modules.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
modules are imported only when their command runs, so ``pytest-carbon --help`` stays fast.

An error of pytest-carbon's own (``errors.CarbonError``: a bad option, a report that cannot be
read, a path where nothing can be written...) ends the command with its message and exit status 2;
each command raises it, ``main`` prints it, once.

A closed pipe (``pytest-carbon regions | head -1``) ends the command quietly with exit status
141, the status a shell reports for a program that the closed pipe's SIGPIPE stopped (128 + 13),
as ``cat`` or ``grep`` would end: no traceback, and the rest of the output is dropped.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pytest_carbon import __version__
from pytest_carbon.errors import CarbonError

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "estimate": ("pytest_carbon.commands.estimate", "estimate the wall power this (or a described) machine draws"),
    "probes": ("pytest_carbon.commands.probes", "show what this machine can measure, what not, and the fixes"),
    "regions": ("pytest_carbon.commands.regions", "search regions and their grid carbon intensity"),
    "report": ("pytest_carbon.commands.report", "render Markdown, JUnit or CSV from a saved JSON report"),
    "compare": ("pytest_carbon.commands.compare", "compare two JSON reports; exit 1 over a threshold"),
    "merge": ("pytest_carbon.commands.merge", "merge shard reports from several machines into one"),
    "history": ("pytest_carbon.commands.history", "list stored runs of a project"),
    "store": ("pytest_carbon.commands.store", "store a saved JSON report in the history (store push)"),
    "dashboard": ("pytest_carbon.commands.dashboard", "write the static dashboard site from the history"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: pytest-carbon COMMAND [options]",
        "",
        "Energy and CO2e of test suites. Run `pytest --carbon` to meter tests; these commands work on",
        "machines, regions and saved reports.",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "`pytest-carbon COMMAND --help` shows the options of one command."]
    return "\n".join(lines)


#: the exit status after a closed pipe: 128 + SIGPIPE (13), as a shell reports a program it stopped
PIPE_CLOSED_EXIT = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code (0 ok, 1 a check failed, 2 usage error, 141 a closed pipe)."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, so that a closed pipe is met while it can still be handled
    except BrokenPipeError:
        _drop_output()
        return PIPE_CLOSED_EXIT
    return code


def _drop_output() -> None:
    """Send what is left of standard output nowhere: the reader has gone (Python's advice on SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return
    devnull = os.open(os.devnull, os.O_WRONLY)  # opened for writing only, never replaced
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"pytest-carbon {__version__}")
        return 0
    name = args[0]
    if name not in COMMANDS:
        print(f"pytest-carbon: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"pytest-carbon {name}", description=text)
    module.add_arguments(parser)
    try:
        parsed = parser.parse_args(args[1:])
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        code: int = module.run(parsed)
    except CarbonError as err:
        message = str(err)  # a message that already names the program (a region's) is printed as it is
        print(message if message.startswith("pytest-carbon: ") else f"pytest-carbon {name}: {message}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
