"""The JUnit file: parsed back with junitparser, every test with its properties and failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped
from reportdata import NASTY_IDS, make_report

from pytest_carbon.budget import budget_from, evaluate
from pytest_carbon.compare import compare
from pytest_carbon.reports.junit import split_nodeid, write_junit


def _cases(path: Path) -> list:  # type: ignore[type-arg]
    xml = JUnitXml.fromfile(str(path))
    return [case for suite in xml for case in suite]


def _props(case: object) -> dict[str, str]:
    element = case._elem  # type: ignore[attr-defined]
    return {p.get("name"): p.get("value") for p in element.iter("property")}


def test_every_test_survives_with_properties(tmp_path: Path) -> None:
    ids = [*NASTY_IDS, "tests/test_a.py::TestK::test_m[x::y]"]
    report = make_report([(n, 1.0 + i) for i, n in enumerate(ids)])
    path = tmp_path / "out" / "carbon.xml"
    write_junit(report, path)
    cases = _cases(path)
    assert len(cases) == len(ids)
    by_id = {_props(c)["nodeid"]: c for c in cases}
    assert set(by_id) == set(ids)
    for entry in report["tests"]:
        props = _props(by_id[entry["nodeid"]])
        assert float(props["energy_j"]) == pytest.approx(entry["energy_j"], rel=1e-5)
        assert float(props["co2_g"]) == pytest.approx(entry["co2_g"], rel=1e-5)
        assert by_id[entry["nodeid"]].result == []
    assert by_id[ids[0]].name == "test_p[<a & b>]"
    assert by_id[ids[-1]].classname == "tests.test_a.TestK"
    assert by_id[ids[-1]].name == "test_m[x::y]"
    assert not list(tmp_path.glob("out/.carbon.xml.*"))  # no temp file left behind


def test_budget_and_regression_failures(tmp_path: Path) -> None:
    base = make_report([("t.py::a", 1.0), ("t.py::b", 1.0), ("t.py::c", 1.0)])
    report = make_report([("t.py::a", 3.0), ("t.py::b", 2.0), ("t.py::c", 1.0)])
    report["tests"][2]["outcome"] = "skipped"
    evaluate(
        report, session_budget=budget_from("1 J", "--carbon-budget"), test_budgets={"t.py::a": budget_from("2 J", "m")}
    )
    report["comparison"] = compare(base, report, threshold=0.15, metric="energy").to_dict()
    path = tmp_path / "carbon.xml"
    write_junit(report, path)
    cases = {c.name: c for c in _cases(path)}
    a_failures = [r for r in cases["a"].result if isinstance(r, Failure)]
    assert {f.type for f in a_failures} == {"carbon-budget", "carbon-regression"}
    budget_msg = next(f.message for f in a_failures if f.type == "carbon-budget")
    assert budget_msg.startswith("carbon budget exceeded: 3 J measured")
    assert [r.type for r in cases["b"].result] == ["carbon-regression"]
    assert isinstance(cases["c"].result[0], Skipped)
    session = cases["session"]
    assert {r.type for r in session.result} == {"carbon-budget", "carbon-regression"}
    xml = JUnitXml.fromfile(str(path))
    suite = next(iter(xml))
    assert suite.failures == 3


def test_warn_mode_budget_is_not_a_failure(tmp_path: Path) -> None:
    report = make_report([("t.py::a", 3.0)])
    evaluate(report, session_budget=None, test_budgets={"t.py::a": budget_from("2 J", "m")}, mode="warn")
    path = tmp_path / "carbon.xml"
    write_junit(report, path)
    (case,) = _cases(path)
    assert case.result == []
    assert _props(case)["carbon_budget_status"] == "exceeded"


def test_control_characters_do_not_break_the_xml(tmp_path: Path) -> None:
    report = make_report([("t.py::a[\x00\x1b]", 1.0)])
    path = tmp_path / "carbon.xml"
    write_junit(report, path)
    (case,) = _cases(path)
    assert _props(case)["nodeid"] == "t.py::a[\\x00\\x1b]"


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("tests/test_a.py::test_x", ("tests.test_a", "test_x")),
        ("tests/test_a.py::TestC::test_x[1]", ("tests.test_a.TestC", "test_x[1]")),
        ("tests/test_a.py::test_x[a::b]", ("tests.test_a", "test_x[a::b]")),
    ],
)
def test_split_nodeid(nodeid: str, expected: tuple[str, str]) -> None:
    assert split_nodeid(nodeid) == expected
