"""The subcommands of ``pytest-carbon``, one module each (see ``pytest_carbon.cli``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_carbon.errors import CarbonError, ReportError


def count(text: str) -> int:
    """An argparse type for a count option (``--top``, ``--limit``): a whole number of 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {value}")
    return value


@contextmanager
def reading_reports(context: str | None = None) -> Iterator[None]:
    """Turn what a report reader raises (a ValueError naming the file) into a ReportError.

    The command line prints it (exit 2); ``context`` (the file), where given, goes before the message.
    """
    try:
        yield
    except CarbonError as err:
        if context:
            raise err.within(context) from None
        raise
    except ValueError as err:
        raise ReportError(f"{context}: {err}" if context else str(err)) from None
