"""The JUnit file: parsed back with junitparser, every test with its properties and failures."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------- pytest's failure details, against the XSD

SCHEMA = Path(__file__).resolve().parent / "schemas" / "junit.xsd"

FAILING_SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("the fixture could not start")

def test_passes():
    assert True

def test_assertion():
    value = 41
    assert value + 1 == 43, "the answer drifted"

def test_exception():
    raise ValueError("bad <input> & more")

def test_setup_error(broken):
    pass

class TestGroup:
    def test_in_class(self):
        assert [1, 2] == [1, 3]
"""


def _xsd() -> object:
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _validate(path: Path) -> None:
    from lxml import etree

    schema = _xsd()
    document = etree.parse(str(path))
    assert schema.validate(document), schema.error_log  # type: ignore[attr-defined]


def _problems(path: Path) -> dict[str, tuple[str, str, str]]:
    """{case name: (element, message, text)} for each failing or erroring case, read with junitparser."""
    from junitparser import Error

    out = {}
    for case in _cases(path):
        for result in case.result:
            if isinstance(result, (Failure, Error)) and result.type not in ("carbon-budget", "carbon-regression"):
                out[case.name] = (result._tag, result.message, result.text or "")
    return out


def test_failures_keep_pytests_message_and_traceback(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_fail=FAILING_SUITE)
    result = carbon_pytester.runpytest(
        "--carbon", "--carbon-junit=carbon.xml", "--junitxml=pytest.xml", "--carbon-json=carbon-report.json"
    )
    result.assert_outcomes(passed=1, failed=3, errors=1)
    carbon = carbon_pytester.path / "carbon.xml"
    own = carbon_pytester.path / "pytest.xml"
    _validate(carbon)
    _validate(own)  # the control: the schema accepts pytest's own file
    ours, theirs = _problems(carbon), _problems(own)
    assert set(ours) == {"test_assertion", "test_exception", "test_setup_error", "test_in_class"}
    assert set(ours) == set(theirs)
    for name, (tag, message, text) in theirs.items():
        assert ours[name][0] == tag
        assert ours[name][1] == message, name
        assert ours[name][2].strip() == text.strip(), name
    assert "the answer drifted" in ours["test_assertion"][1]
    assert "assert (41 + 1) == 43" in ours["test_assertion"][2]
    assert ours["test_exception"][1] == "ValueError: bad <input> & more"
    assert ours["test_setup_error"][0] == "error"
    assert ours["test_setup_error"][1].startswith('failed on setup with "RuntimeError: the fixture could not start')
    types = {c.name: r.type for c in _cases(carbon) for r in c.result}
    assert types["test_exception"] == "ValueError" and types["test_setup_error"] == "RuntimeError"
    # the JSON report holds the same details
    report = json.loads((carbon_pytester.path / "carbon-report.json").read_text(encoding="utf-8"))
    by_id = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    assert by_id["test_exception"]["failure"]["when"] == "call"
    assert "failure" not in by_id["test_passes"]


def test_a_rerun_that_passes_keeps_no_failure(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        test_flaky="""
        import pathlib

        def test_flaky(tmp_path_factory):
            mark = pathlib.Path(__file__).with_name("ran-once")
            if not mark.exists():
                mark.write_text("1")
                assert False, "first attempt"
        """
    )
    result = carbon_pytester.runpytest("--carbon", "--carbon-junit=carbon.xml", "--reruns=1", "-p", "rerunfailures")
    result.assert_outcomes(passed=1)
    (case,) = _cases(carbon_pytester.path / "carbon.xml")
    assert case.result == []


def test_the_schema_refuses_a_broken_file(tmp_path: Path) -> None:
    """The control for the schema: a case without a name and a negative count are refused."""
    from lxml import etree

    bad = tmp_path / "bad.xml"
    bad.write_text('<testsuites><testsuite name="s" tests="-1"><testcase classname="c"/></testsuite></testsuites>')
    assert not _xsd().validate(etree.parse(str(bad)))  # type: ignore[attr-defined]


def test_a_report_without_details_still_writes_a_valid_failure(tmp_path: Path) -> None:
    report = make_report([("t.py::a", 1.0), ("t.py::b", 1.0)])
    report["tests"][0]["outcome"] = "failed"
    report["tests"][1]["outcome"] = "error"
    path = tmp_path / "carbon.xml"
    write_junit(report, path)
    _validate(path)
    problems = _problems(path)
    assert problems["a"][:2] == ("failure", "test failed")
    assert problems["b"][:2] == ("error", "test errored")


def test_failure_details_cross_xdist_workers(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_fail=FAILING_SUITE)
    result = carbon_pytester.runpytest("--carbon", "--carbon-junit=carbon.xml", "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=1, failed=3, errors=1)
    carbon = carbon_pytester.path / "carbon.xml"
    _validate(carbon)
    problems = _problems(carbon)
    assert problems["test_exception"][1] == "ValueError: bad <input> & more"
    assert 'raise ValueError("bad <input> & more")' in problems["test_exception"][2]
