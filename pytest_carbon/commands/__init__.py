"""The subcommands of ``pytest-carbon``, one module each (see ``pytest_carbon.cli``)."""

from __future__ import annotations

import argparse


def count(text: str) -> int:
    """An argparse type for a count option (``--top``, ``--limit``): a whole number of 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {value}")
    return value
