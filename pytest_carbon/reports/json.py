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


#: the deepest nesting a saved report may have (the plugin's own reports go 5 levels deep)
MAX_DEPTH = 64
#: the smallest value of each figure, where a report keeps figures: session and test entries (and
#: their components), the region and each shard of a merged report; any other number must be finite
_FIGURE_MINIMUM: dict[str, float] = {
    "duration_s": 0.0,
    "cpu_time_s": 0.0,
    "energy_j": 0.0,
    "dynamic_energy_j": 0.0,
    "static_energy_j": 0.0,
    "co2_g": 0.0,
    "tests_energy_j": 0.0,
    "machine_energy_j": 0.0,
    "wall_span_s": 0.0,
    "samples": 0.0,
    "shards": 0.0,
    "intensity_g_per_kwh": 0.0,
    "pue": 1.0,
}
_COMPONENTS = "components_j"


def load_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved report, the one checked way in; raise ValueError naming ``path`` for anything else.

    Refused, each with a message that names the file: a file that cannot be read, text that is not
    UTF-8 or not JSON, JSON nested deeper than ``MAX_DEPTH``, anything but a report of schema
    version 1, and a report with a figure that is NaN, infinite or below its minimum (``check_figures``).
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {err.start}: {data[err.start : err.start + 1]!r}); "
            "a JSON report is written in UTF-8"
        ) from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not JSON: {err}") from None
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to be a pytest-carbon report") from None
    if not isinstance(loaded, dict) or "schema_version" not in loaded:
        raise ValueError(f"{path} is not a pytest-carbon report (no schema_version)")
    if loaded["schema_version"] != 1:
        raise ValueError(
            f"{path} has report schema version {loaded['schema_version']!r}; this pytest-carbon reads version 1"
        )
    check_figures(loaded, str(path))
    return loaded


def _where(path: tuple[Any, ...]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def check_figures(report: Mapping[str, Any], label: str) -> None:
    """Refuse NaN and infinite numbers anywhere, figures below their minimum, and nesting past ``MAX_DEPTH``.

    The message starts with ``label`` and names the key (``tests[3].energy_j``), with the test's
    node id where there is one. Figures are the numbers at the keys of ``_FIGURE_MINIMUM`` (and
    every component) in the session, the test entries, the region and the shards of a merged run.
    """
    # (container, its path, whether its numbers are figures); walked without recursion
    stack: list[tuple[Any, tuple[Any, ...], bool]] = []
    for key, item in report.items():
        if key == "tests" and type(item) is list:
            _check_tests(report, item, label, stack)
        elif type(item) is dict or type(item) is list:
            stack.append((item, (key,), _holds_figures((key,))))
        elif (type(item) is float or type(item) is int) and item - item != 0:
            _refuse(report, label, (key,), item, None)
    while stack:
        value, path, figures = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise ValueError(
                f"{label} is nested more than {MAX_DEPTH} levels deep (under {path[0]!r}), "
                "too deep to be a pytest-carbon report"
            )
        items: Iterable[tuple[Any, Any]] = value.items() if type(value) is dict else enumerate(value)
        for key, item in items:
            kind = type(item)
            if kind is float or kind is int:
                minimum = (0.0 if path[-1] == _COMPONENTS else _FIGURE_MINIMUM.get(key)) if figures else None
                # x - x is 0 for a finite number, NaN for NaN and for an infinity
                if item - item != 0 or (minimum is not None and item < minimum):
                    _refuse(report, label, (*path, key), item, minimum)
            elif kind is dict or kind is list:
                below = (*path, key)
                stack.append((item, below, _holds_figures(below)))


def _check_tests(
    report: Mapping[str, Any], tests: list[Any], label: str, stack: list[tuple[Any, tuple[Any, ...], bool]]
) -> None:
    """``check_figures`` for the test entries, the bulk of a report: a direct loop over each entry."""
    minima = _FIGURE_MINIMUM
    for index, entry in enumerate(tests):
        if type(entry) is not dict:
            if type(entry) is list:
                stack.append((entry, ("tests", index), False))
            continue
        for key, item in entry.items():
            kind = type(item)
            if kind is float or kind is int:
                minimum = minima.get(key)
                if item - item != 0 or (minimum is not None and item < minimum):
                    _refuse(report, label, ("tests", index, key), item, minimum)
            elif kind is dict and key == _COMPONENTS:
                for name, part in item.items():
                    if type(part) is float or type(part) is int:
                        if part - part != 0 or part < 0:
                            _refuse(report, label, ("tests", index, key, name), part, 0.0)
                    elif type(part) is dict or type(part) is list:
                        stack.append((part, ("tests", index, key, name), False))
            elif kind is dict or kind is list:
                stack.append((item, ("tests", index, key), False))


def _holds_figures(path: tuple[Any, ...]) -> bool:
    """Whether the numbers of the container at ``path`` are figures."""
    if path in (("session",), ("region",), ("session", _COMPONENTS)):
        return True
    if len(path) >= 2 and path[0] == "tests" and isinstance(path[1], int):
        return len(path) == 2 or path[2:] == (_COMPONENTS,)
    return len(path) == 3 and path[:2] == ("run", "shards") and isinstance(path[2], int)


def _refuse(report: Mapping[str, Any], label: str, path: tuple[Any, ...], value: float, minimum: float | None) -> None:
    test = ""
    if path[0] == "tests":
        entry = report["tests"][path[1]]
        if isinstance(entry, Mapping) and isinstance(entry.get("nodeid"), str):
            test = f" (test {entry['nodeid']})"
    if value != value or value in (math.inf, -math.inf):
        shown = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        what = "a finite number"
    else:
        shown, what = repr(value), f"a number of {minimum:g} or more"
    raise ValueError(f"{label}: {_where(path)}{test} is {shown}; a report holds {what} there")


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
