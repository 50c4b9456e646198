"""Budgets on the report model: verdicts, their text, and the report's budget keys."""

from __future__ import annotations

import pytest
from reportdata import AWS_IE, make_report

from pytest_carbon.budget import budget_from, evaluate, how_obtained, marker_budget
from pytest_carbon.units import QuantityError


def test_test_over_its_co2_budget_fails_with_the_reason() -> None:
    report = make_report([("t.py::big", 720.0), ("t.py::small", 1.0)], region=AWS_IE)
    co2_big_g = report["tests"][0]["co2_g"]
    budgets = {"t.py::big": budget_from("5 mg", "marker"), "t.py::small": budget_from("5 mg", "marker")}
    result = evaluate(report, session_budget=None, test_budgets=budgets)
    assert co2_big_g > 0.005
    assert [v.subject for v in result.exceeded_tests] == ["t.py::big"]
    assert result.fails
    big = result.tests[0]
    assert big.measured_si == pytest.approx(co2_big_g)
    text = big.text()
    assert text.startswith("carbon budget exceeded: ")
    assert "budget 5 mg CO2e" in text
    assert "estimated by model: Intel Xeon Platinum 8370C" in text
    assert "region aws:eu-west-1 278.0 g/kWh" in text
    assert report["tests"][0]["budget"]["status"] == "exceeded"
    assert report["tests"][1]["budget"]["status"] == "ok"
    assert report["budget"]["tests_exceeded"] == ["t.py::big"]
    assert report["budget"]["failed"] is True


def test_energy_budget_ignores_the_region() -> None:
    report = make_report([("t.py::a", 3.0)])
    result = evaluate(report, session_budget=None, test_budgets={"t.py::a": budget_from("2 J", "carbon_test_budget")})
    verdict = result.tests[0]
    assert verdict.exceeded
    assert "3 J measured" in verdict.text() and "budget 2 J" in verdict.text()
    assert "g/kWh" not in verdict.text()


def test_budget_met_exactly_is_ok() -> None:
    report = make_report([("t.py::a", 2.0)])
    result = evaluate(report, session_budget=None, test_budgets={"t.py::a": budget_from("2 J", "x")})
    assert not result.tests[0].exceeded
    assert not result.fails


def test_session_budget_and_warn_mode() -> None:
    report = make_report([("t.py::a", 2.0)], remainder_j=1.0)  # session 3 J
    result = evaluate(report, session_budget=budget_from("2.5 J", "--carbon-budget"), test_budgets={}, mode="warn")
    assert result.session is not None and result.session.exceeded
    assert not result.fails
    assert report["budget"]["session"]["status"] == "exceeded"
    assert any("mode is warn" in line for line in result.lines())
    failing = evaluate(report, session_budget=budget_from("2.5 J", "--carbon-budget"), test_budgets={})
    assert failing.fails
    assert failing.lines()[0].startswith("session carbon budget exceeded: 3 J measured")


def test_tests_without_budget_get_none() -> None:
    report = make_report()
    evaluate(report, session_budget=None, test_budgets={})
    assert all(t["budget"] is None for t in report["tests"])
    assert report["budget"]["failed"] is False


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), (("5 mg", "2 J"), {}), ((5,), {}), ((), {"limit": "5 mg", "other": 1}), (("5 potatoes",), {})],
)
def test_bad_markers_are_refused_with_an_example(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(QuantityError, match=r"t\.py::a") as info:
        marker_budget(args, kwargs, "t.py::a")
    assert "5 mg" in str(info.value)


def test_marker_forms() -> None:
    assert marker_budget(("5 mg",), {}, "x").limit.value_si == pytest.approx(0.005)
    assert marker_budget((), {"limit": "2 J"}, "x").key == "energy_j"


def test_how_obtained_says_measured_or_unknown_region() -> None:
    probes = [{"name": "rapl", "measured": True}, {"name": "model", "measured": False, "inputs": {}}]
    text = how_obtained(probes, {"known": False, "code": None, "intensity_g_per_kwh": 473.0}, "co2")
    assert text == "measured by rapl, estimated by model, region unknown: world average 473.0 g/kWh"
    assert how_obtained([], None, "energy") == "no energy probe"
