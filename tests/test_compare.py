"""Regression check of a report against its baseline."""

from __future__ import annotations

import pytest
from reportdata import AWS_IE, make_report

from pytest_carbon.compare import SESSION_FLOOR_J, TEST_FLOOR_J, compare


def test_session_regression_over_threshold_fails() -> None:
    base = make_report([("t.py::a", 10.0), ("t.py::b", 10.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 10.0), ("t.py::b", 14.0)], remainder_j=0.0)  # session +20 %
    result = compare(base, new, threshold=0.15)
    assert result.session.change == pytest.approx(4.0)
    assert result.session.relative == pytest.approx(0.2)
    assert result.session.regressed
    assert [d.subject for d in result.regressions] == ["t.py::b"]
    assert result.fails
    lines = result.lines()
    assert lines[1] == "session: 20 J -> 24 J (+4 J, +20.0%): regression"
    assert lines[-1].startswith("carbon regression:")
    data = result.to_dict()
    assert data["failed"] is True and data["regressions"][0]["subject"] == "t.py::b"


def test_under_threshold_passes() -> None:
    base = make_report([("t.py::a", 10.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 11.0)], remainder_j=0.0)
    result = compare(base, new, threshold=0.15)
    assert not result.regressed and not result.fails
    assert "within noise" in result.session.text()


def test_without_threshold_reports_but_does_not_fail() -> None:
    base = make_report([("t.py::a", 10.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 20.0)], remainder_j=0.0)
    result = compare(base, new)
    assert result.regressed and not result.fails


def test_noise_floor_hides_tiny_tests() -> None:
    tiny = TEST_FLOOR_J / 10
    base = make_report([("t.py::tiny", tiny), ("t.py::big", 100.0)], remainder_j=0.0)
    new = make_report([("t.py::tiny", tiny * 3), ("t.py::big", 100.0)], remainder_j=0.0)  # +200 % but below floor
    result = compare(base, new, threshold=0.15)
    assert result.regressions == ()
    assert not result.fails
    small_base = make_report([("t.py::a", 0.1)], remainder_j=0.0)
    small_new = make_report([("t.py::a", 0.1 + SESSION_FLOOR_J * 0.9)], remainder_j=0.0)
    small = compare(small_base, small_new, threshold=0.15)
    assert not small.session.regressed  # +450 % yet under the session floor
    assert [d.subject for d in small.regressions] == ["t.py::a"]  # above the per-test floor


def test_improvement_added_and_removed() -> None:
    base = make_report([("t.py::a", 10.0), ("t.py::gone", 1.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 5.0), ("t.py::new", 1.0)], remainder_j=0.0)
    result = compare(base, new, threshold=0.15)
    assert [d.subject for d in result.improvements] == ["t.py::a"]
    assert result.added == ("t.py::new",)
    assert result.removed == ("t.py::gone",)
    assert not result.fails


def test_energy_is_compared_not_co2_unless_asked() -> None:
    base = make_report([("t.py::a", 10.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 10.0)], remainder_j=0.0, region=AWS_IE)  # same energy, dirtier grid
    assert not compare(base, new, threshold=0.15).regressed
    co2 = compare(base, new, threshold=0.15, metric="co2")
    assert co2.session.regressed and co2.fails
    assert any("region differs" in note for note in co2.notes)
    assert co2.lines()[1].endswith("regression")


def test_different_probes_are_noted() -> None:
    base = make_report(probes=[{"name": "rapl", "components": ["cpu"], "measured": True, "inputs": {}}])
    new = make_report()
    assert any("energy sources differ" in n for n in compare(base, new).notes)


def test_zero_baseline() -> None:
    base = make_report([("t.py::a", 0.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 1.0)], remainder_j=0.0)
    result = compare(base, new, threshold=0.15)
    assert result.session.relative is None and result.session.regressed
    assert "n/a" in result.session.text()
