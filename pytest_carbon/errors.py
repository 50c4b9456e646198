"""Every error pytest-carbon raises on purpose, under one base class; a leaf module (imports nothing).

Each message says what went wrong and what to write or do instead, so that the plugin can turn
it into a pytest usage error and the ``pytest-carbon`` command can print it as it is (exit 2).
The classes keep the base classes they had when they lived in their own modules
(``ConfigError``, ``OutputError``, ``ModelInputError`` and ``ReportError`` are also
``ValueError``), so an ``except ValueError`` written before still catches them; the old modules
still export their names.
"""

from __future__ import annotations


class CarbonError(Exception):
    """Base of pytest-carbon's own errors; the message is safe to show and says what to do."""

    def within(self, context: str) -> CarbonError:
        """Put ``context: `` (the flag or the file it is about) before the message; return the error."""
        self.args = (f"{context}: {self}",)
        return self


class ConfigError(CarbonError, ValueError):
    """A configuration value that cannot be used; the message says what to write instead."""


class QuantityError(ConfigError):
    """A quantity or percentage that cannot be read; the message shows what to write instead."""


class RegionError(ConfigError):
    """A region code that is not in the shipped tables; the message lists the closest codes."""


class OutputError(CarbonError, ValueError):
    """A path where no file can be written; the message says why and what to write instead."""


class ProbeError(CarbonError):
    """A probe could not be started or read; the message says what to do about it."""


class NotPresent(ProbeError):
    """The hardware this probe reads is not on this machine: a fact to report, not a fault."""


class ModelInputError(CarbonError, ValueError):
    """An input to the power model is out of its domain; the message says which and why."""


class LiveError(CarbonError):
    """A live figure that could not be had; the message is safe to show (no token in it)."""


class StoreError(CarbonError):
    """The history store cannot be used; the message says why and what to do, never a password."""


class NoHistory(StoreError):
    """A history that does not exist yet, asked for by a command that only reads."""


class ReportError(CarbonError, ValueError):
    """A dict or a file that is not a report; the message names the file or the missing key."""
