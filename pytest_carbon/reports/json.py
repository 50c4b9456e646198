"""The JSON report: indented, one test a line, written safely (``pytest_carbon.outputs``).

Reading and checking a saved report is the model's (``pytest_carbon.model``); the names it had
here are kept for the code and the tests that import them from this module.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from json.encoder import encode_basestring
from typing import Any

from pytest_carbon.model import (
    COMPONENT_KEYS,
    FIGURE_KEYS,
    MAX_DEPTH,
    TEST_KEYS,
    check_figures,
    check_report,
    load_json,
    plugin_figures,
    schema,
)

__all__ = [
    "COMPONENT_KEYS",
    "MAX_DEPTH",
    "TEST_KEYS",
    "check_figures",
    "check_report",
    "dumps",
    "load_json",
    "plugin_figures",
    "schema",
    "write_json",
    "write_text_atomic",
]


def write_text_atomic(path: str | os.PathLike[str], text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces) to ``path``: atomically for a file, through a device, ``-`` for stdout."""
    from pytest_carbon.outputs import write_text

    write_text(path, text)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
_text = encode_basestring  # a JSON string, as the encoder writes it with ensure_ascii=False


def _digits(value: float) -> str:
    """A figure with 12 significant digits: far finer than any measurement, half the cost of repr."""
    return f"{value:.12g}"


def _rounded(test: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a test entry with its figures at 12 significant digits (other values as they are)."""

    def rounded(value: Any) -> Any:
        if type(value) is float and math.isfinite(value):
            return float(_digits(value))
        return value

    entry = dict(test)
    for key in FIGURE_KEYS:
        if key in entry:
            entry[key] = rounded(entry[key])
    comps = entry.get("components_j")
    if isinstance(comps, Mapping):
        entry["components_j"] = {key: rounded(value) for key, value in comps.items()}
    return entry


#: the types the direct path writes as a JSON string or null (outcome, file, worker)
_TEXT_TYPES = {str, type(None)}


def _test_line(test: Mapping[str, Any], quoted: dict[str | None, str]) -> str:
    """One test entry as a line of JSON, its figures at 12 significant digits.

    An entry of the plugin's own shape (``model.plugin_figures``) with finite figures and text
    where the plugin writes text is formatted directly (several times faster than the encoder);
    any other entry goes through the encoder (NaN and infinity are refused as the encoder
    refuses them). ``quoted`` keeps the JSON text of the strings that repeat from one test to
    the next (outcome, file, worker).
    """
    figures = plugin_figures(test)
    if (
        figures is None
        or not math.isfinite(sum(figures))
        or type(test["nodeid"]) is not str
        or not {type(test["outcome"]), type(test["file"]), type(test["worker"])} <= _TEXT_TYPES
    ):
        return _ENCODER.encode(_rounded(test))
    duration, cpu_time, energy, dynamic, co2, cpu, ram, gpu = figures
    line = test["line"]
    return (
        f'{{"nodeid": {_text(test["nodeid"])}, "outcome": {_quote(quoted, test["outcome"])}, '
        f'"duration_s": {duration:.12g}, "cpu_time_s": {cpu_time:.12g}, "energy_j": {energy:.12g}, '
        f'"dynamic_energy_j": {dynamic:.12g}, "co2_g": {co2:.12g}, '
        f'"components_j": {{"cpu": {cpu:.12g}, "ram": {ram:.12g}, "gpu": {gpu:.12g}}}, '
        f'"file": {_quote(quoted, test["file"])}, "line": {"null" if line is None else line}, '
        f'"worker": {_quote(quoted, test["worker"])}}}'
    )


def _test_lines(tests: Iterable[Mapping[str, Any]], quoted: dict[str | None, str]) -> list[str]:
    """Test entries as lines of JSON, one an entry (``_test_line``)."""
    return [_test_line(test, quoted) for test in tests]


def _quote(quoted: dict[str | None, str], value: str | None) -> str:
    """The JSON text of ``value`` (a string or None), kept in ``quoted``."""
    text = quoted.get(value)
    if text is None:
        text = quoted[value] = "null" if value is None else _text(value)
    return text


def _chunks(report: dict[str, Any]) -> Iterator[str]:
    """The report's JSON text in pieces: indented, with one test a line.

    Indented output goes through the json module's pure-Python encoder (about 30 microseconds
    a test); the tests, the bulk of a large report, are written one line each (``_test_lines``),
    in blocks, so that a large report is never held twice in memory.
    """
    head = {key: value for key, value in report.items() if key != "tests"}
    text = json.dumps(head, indent=2, ensure_ascii=False, allow_nan=False)
    if "tests" not in report:
        yield text + "\n"
        return
    tests = report["tests"]
    yield (text[:-2] + ",\n" if head else "{\n") + '  "tests": ['
    quoted: dict[str | None, str] = {}
    for start in range(0, len(tests), _BLOCK):
        lines = ",\n    ".join(_test_lines(tests[start : start + _BLOCK], quoted))
        yield ("\n    " if start == 0 else ",\n    ") + lines
    yield ("\n  ]" if tests else "]") + "\n}\n"


_BLOCK = 1000


def dumps(report: dict[str, Any]) -> str:
    """The report as JSON text: indented, with one test a line."""
    return "".join(_chunks(report))


def write_json(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the report atomically: a reader never sees half a file."""
    write_text_atomic(path, _chunks(report))
