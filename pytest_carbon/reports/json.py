"""The JSON report: written safely (``pytest_carbon.outputs``), checked against the schema shipped in the package."""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from json.encoder import encode_basestring
from typing import Any


def write_text_atomic(path: str | os.PathLike[str], text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces) to ``path``: atomically for a file, through a device, ``-`` for stdout."""
    from pytest_carbon.outputs import write_text

    write_text(path, text)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
#: the keys of a test entry the plugin writes, in order
TEST_KEYS = (
    "nodeid",
    "outcome",
    "duration_s",
    "cpu_time_s",
    "energy_j",
    "dynamic_energy_j",
    "co2_g",
    "components_j",
    "file",
    "line",
    "worker",
)
#: the components of a test entry the plugin writes, in order
COMPONENT_KEYS = ("cpu", "ram", "gpu")
_FIGURES = ("duration_s", "cpu_time_s", "energy_j", "dynamic_energy_j", "co2_g")
_test_figures = operator.itemgetter(*_FIGURES)
_component_figures = operator.itemgetter(*COMPONENT_KEYS)
_FLOAT_ONLY = {float}
_LINE_TYPES = (int, type(None))
_text = encode_basestring  # a JSON string, as the encoder writes it with ensure_ascii=False
#: per-test figures are written with 12 significant digits: far finer than any measurement, and
#: about half the cost of the shortest exact text of a float
_DIGITS = "%.12g"
_LINE = (
    '{"nodeid": %s, "outcome": %s, "duration_s": %.12g, "cpu_time_s": %.12g, "energy_j": %.12g, '
    '"dynamic_energy_j": %.12g, "co2_g": %.12g, "components_j": {"cpu": %.12g, "ram": %.12g, "gpu": %.12g}, '
    '"file": %s, "line": %s, "worker": %s}'
)


def plugin_figures(test: Any) -> tuple[float, ...] | None:
    """The eight figures of a test entry of the plugin's own shape, or None for any other entry.

    The plugin's shape: a dict with the keys ``TEST_KEYS`` in that order, ``components_j`` a dict
    with the keys ``COMPONENT_KEYS`` in that order, every figure a float and ``line`` an int or
    None. The figures come in that order (``duration_s`` to ``co2_g``, then the components); the
    JSON writer and the store take a direct path for such entries.
    """
    if type(test) is not dict or tuple(test) != TEST_KEYS:
        return None
    comps = test["components_j"]
    if type(comps) is not dict or tuple(comps) != COMPONENT_KEYS or type(test["line"]) not in _LINE_TYPES:
        return None
    figures: tuple[float, ...] = _test_figures(test) + _component_figures(comps)
    # the types checked in C (no generator): every figure a float, no int, no bool
    return figures if set(map(type, figures)) == _FLOAT_ONLY else None


def _rounded(test: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a test entry with its figures at 12 significant digits (other values as they are)."""

    def rounded(value: Any) -> Any:
        if type(value) is float and math.isfinite(value):
            return float(_DIGITS % value)
        return value

    entry = dict(test)
    for key in _FIGURES:
        if key in entry:
            entry[key] = rounded(entry[key])
    comps = entry.get("components_j")
    if isinstance(comps, Mapping):
        entry["components_j"] = {key: rounded(value) for key, value in comps.items()}
    return entry


def _test_lines(tests: Iterable[Mapping[str, Any]], quoted: dict[Any, str]) -> list[str]:
    """Test entries as lines of JSON, one an entry, figures at 12 significant digits.

    The entries the plugin builds are formatted directly (several times faster than the
    encoder); an entry with other keys or other types goes through the encoder (NaN and
    infinity are refused as the encoder refuses them). ``quoted`` keeps the JSON text of the
    strings that repeat from one test to the next (outcome, file, worker).
    """
    lines: list[str] = []
    append = lines.append
    for test in tests:
        figures = plugin_figures(test)
        try:
            if figures is None or not math.isfinite(sum(figures)):
                raise TypeError
            outcome, file, worker, line = test["outcome"], test["file"], test["worker"], test["line"]
            # printf-style formatting: measured faster here than str.format for these lines
            append(
                _LINE
                % (
                    _text(test["nodeid"]),
                    quoted.get(outcome) or _quote(quoted, outcome),
                    *figures,
                    quoted.get(file) or _quote(quoted, file),
                    "null" if line is None else line,
                    quoted.get(worker) or _quote(quoted, worker),
                )
            )
        except TypeError:  # a string that is not one, an unhashable value, NaN: the encoder says
            append(_ENCODER.encode(_rounded(test)))
    return lines


def _quote(quoted: dict[Any, str], value: Any) -> str:
    """The JSON text of ``value`` (a string or None), kept in ``quoted``; TypeError for any other."""
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
    quoted: dict[Any, str] = {}
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


def load_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved report; raise ValueError with a clear message for anything else."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not JSON: {err}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ValueError(f"{path} is not a pytest-carbon report (no schema_version)")
    if data["schema_version"] != 1:
        raise ValueError(
            f"{path} has report schema version {data['schema_version']}; this pytest-carbon reads version 1"
        )
    return data


def _number(value: Any, finite: bool) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return math.isfinite(value) or not finite


def check_report(report: Any, label: str, *, finite: bool = False, tests: bool = True) -> None:
    """Check the figures every reader of a saved report needs; raise ValueError naming ``label`` otherwise.

    A report is a JSON object with numbers at ``session.energy_j`` and ``session.co2_g`` and a list
    of tests, each with a string ``nodeid`` and numbers at ``energy_j`` and ``co2_g``. ``label`` (a
    file path, "shard NAME") starts each message; ``finite`` refuses NaN and infinite figures too;
    ``tests=False`` checks only that the tests are a list (for a report this process just built).
    """
    if not isinstance(report, Mapping):
        raise ValueError(f"{label} is not a report (expected a JSON object)")
    session = report.get("session")
    if not isinstance(session, Mapping) or not all(_number(session.get(k), finite) for k in ("energy_j", "co2_g")):
        raise ValueError(
            f"{label} has no session figures (session.energy_j, session.co2_g): is it a full pytest-carbon report?"
        )
    entries = report.get("tests")
    if not isinstance(entries, list):
        raise ValueError(f"{label} has no list of tests")
    if not tests:
        return
    for index, test in enumerate(entries):
        if not isinstance(test, Mapping) or not isinstance(test.get("nodeid"), str):
            raise ValueError(f"{label}: tests[{index}] has no nodeid")
        if not all(_number(test.get(k), finite) for k in ("energy_j", "co2_g")):
            raise ValueError(f"{label}: tests[{index}] ({test['nodeid']}) has no energy_j or co2_g figure")


def schema() -> dict[str, Any]:
    """The JSON Schema of the report, as shipped in the package."""
    text = resources.files("pytest_carbon").joinpath("report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
