"""The JSON report's writer: one line a test, figures at 12 significant digits, whatever the entry holds."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_carbon.reports.json import _rounded, _test_lines, dumps


def _entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "nodeid": 'tests/test_a.py::test_b[é-"q"\\n]',
        "outcome": "passed",
        "duration_s": 1.25e-05,
        "cpu_time_s": 1.1e-05,
        "energy_j": 0.000123456789,
        "dynamic_energy_j": 4.5678e-05,
        "co2_g": 1.234567e-06,
        "components_j": {"cpu": 0.0001, "ram": 2.3456e-05, "gpu": 0.0},
        "file": "tests/test_a.py",
        "line": 12,
        "worker": None,
    }
    entry.update(changes)
    return entry


def _test_line(entry: dict[str, Any]) -> str:
    (line,) = _test_lines([entry], {})
    return line


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"worker": "gw1", "line": None, "file": None},
        {"line": True},  # not an int for JSON: the encoder writes true
        {"energy_j": 3},  # an int figure
        {"co2_g": "1.0"},  # a string figure
        {"nodeid": "tests/x.py::t[\u2028\x00]"},
        {"subtests": {"count": 2, "failed": 1}},  # a key of its own
        {"components_j": {"cpu": 1.0, "ram": 2.0}},
        {"components_j": {"ram": 2.0, "cpu": 1.0, "gpu": 0.0}},
        {"duration_s": 1e308, "cpu_time_s": 1e308},  # finite each, infinite sum
        {"file": ["a", "b"]},  # not a string, not hashable
        {"worker": 3, "outcome": None},
    ],
)
def test_a_line_reads_back_as_the_entry_at_12_digits(changes: dict[str, Any]) -> None:
    entry = _entry(**changes)
    line = _test_line(entry)
    assert "\n" not in line
    assert json.loads(line) == _rounded(entry)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_figures_are_refused_as_the_encoder_refuses_them(bad: float) -> None:
    with pytest.raises(ValueError):
        _test_line(_entry(dynamic_energy_j=bad))


@given(
    figures=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=8, max_size=8),
    nodeid=st.text(),
    line=st.one_of(st.none(), st.integers()),
)
def test_any_entry_of_the_plugin_shape_matches(figures: list[float], nodeid: str, line: int | None) -> None:
    entry = _entry(
        nodeid=nodeid,
        line=line,
        duration_s=figures[0],
        cpu_time_s=figures[1],
        energy_j=figures[2],
        dynamic_energy_j=figures[3],
        co2_g=figures[4],
        components_j=dict(zip(("cpu", "ram", "gpu"), figures[5:], strict=True)),
    )
    loaded = json.loads(_test_line(entry))
    assert loaded == _rounded(entry)
    for key in ("duration_s", "cpu_time_s", "energy_j", "dynamic_energy_j", "co2_g"):
        assert loaded[key] == pytest.approx(entry[key], rel=1e-11, abs=1e-300)


def test_figures_keep_12_significant_digits() -> None:
    loaded = json.loads(_test_line(_entry(energy_j=0.1234567890123456, co2_g=2.0 / 3.0)))
    assert loaded["energy_j"] == 0.123456789012
    assert loaded["co2_g"] == 0.666666666667


@pytest.mark.parametrize("count", [0, 1, 999, 1000, 1001, 2500])
def test_a_report_of_any_size_reads_back(count: int) -> None:
    report = {"schema_version": 1, "session": {"energy_j": 1.0}, "tests": [_entry(line=i) for i in range(count)]}
    text = dumps(report)
    assert json.loads(text) == {**report, "tests": [_rounded(t) for t in report["tests"]]}
    assert text.count("\n    {") == count  # one test a line


def test_lines_that_share_their_strings_each_read_back_as_their_entry() -> None:
    entries = [
        _entry(),
        _entry(worker="gw0", outcome="failed"),
        _entry(worker=None, file=None, outcome="passed"),
        _entry(worker="gw0", file="tests/test_é.py", outcome="failed"),
        _entry(worker=1, file="tests/test_a.py"),  # an int worker: the encoder writes it
        _entry(worker="gw0", outcome="passed", file="tests/test_a.py"),
    ]
    quoted: dict[Any, str] = {}
    lines = _test_lines(entries, quoted)
    assert [json.loads(line) for line in lines] == [_rounded(e) for e in entries]
    assert _test_lines(entries, quoted) == lines  # the strings kept from the first pass change nothing
