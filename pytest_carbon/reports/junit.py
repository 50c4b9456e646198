"""JUnit XML of the carbon figures, written with the junit-xml package.

One ``testcase`` per test, carrying ``energy_j`` and ``co2_g`` (and the exact node id) as
properties (a rerun test: one testcase, its last attempt's outcome, the figures of all its attempts
and an ``attempts`` property); a test over its budget (mode fail) or a regression beyond the compare threshold is a
``failure`` of type ``carbon-budget`` or ``carbon-regression``, so CI test tabs show it. The
session's own budget or regression is a testcase named ``session`` in the class ``pytest-carbon``.

A failing test's ``failure`` (an erroring one's ``error``) keeps what pytest said, as pytest's own
``--junitxml`` does: the crash line as ``message`` (``assert 1 == 2``; ``failed on setup with "..."``
outside the call), the exception's class as ``type`` and the traceback text as the element's text,
so a merge request's test report shows the assertion, not just "test failed".
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from pytest_carbon.outputs import write_text as write_text_atomic
from pytest_carbon.units import format_quantity

# XML 1.0 forbids most control characters even as character references
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _ILLEGAL_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """(classname, name) the way pytest's own JUnit XML writes them: "tests.test_a.TestX", "test_y[1]"."""
    parts = nodeid.split("::")
    # a "::" inside the parameters belongs to the name, not to the path
    if "[" in nodeid:
        head, _, params = nodeid.partition("[")
        parts = head.split("::")
        parts[-1] += "[" + params
    path = parts[0]
    module = path[:-3] if path.endswith(".py") else path
    classname = ".".join([module.replace("/", ".").replace("\\", "."), *parts[1:-1]])
    return classname, parts[-1] if len(parts) > 1 else path


def _properties(entry: dict[str, Any]) -> dict[str, str]:
    props = {
        "nodeid": entry["nodeid"],
        "energy_j": f"{entry['energy_j']:.6g}",
        "co2_g": f"{entry['co2_g']:.6g}",
        "dynamic_energy_j": f"{entry.get('dynamic_energy_j', 0.0):.6g}",
        "cpu_time_s": f"{entry.get('cpu_time_s', 0.0):.6g}",
    }
    if entry.get("attempts"):  # a rerun test: one testcase, its last attempt's outcome, all attempts' figures
        props["attempts"] = str(entry["attempts"])
    budget = entry.get("budget")
    if budget:
        props["carbon_budget"] = str(budget.get("limit"))
        props["carbon_budget_status"] = str(budget.get("status"))
    return props


def build_xml(report: dict[str, Any], suite_name: str = "pytest-carbon") -> ET.Element:
    """The ``testsuites`` element for the report."""
    from junit_xml import TestCase, TestSuite

    comparison = report.get("comparison") or {}
    fail_regressions = bool(comparison.get("fail_on_regression"))
    regressions = {d["subject"]: d for d in comparison.get("regressions", [])}
    metric = comparison.get("metric", "energy")
    cases = []
    props: list[dict[str, str]] = []
    for entry in report.get("tests", []):
        nodeid = _clean(str(entry["nodeid"]))
        classname, name = split_nodeid(nodeid)
        case = TestCase(
            name,
            classname=classname,
            elapsed_sec=float(entry.get("duration_s") or 0.0),
            file=_clean(str(entry.get("file") or "")) or None,
            line=str(entry["line"]) if entry.get("line") else None,
            allow_multiple_subelements=True,
        )
        outcome = entry.get("outcome")
        failure = entry.get("failure") if isinstance(entry.get("failure"), dict) else {}
        message = _clean(str(failure.get("message") or f"test {'errored' if outcome == 'error' else 'failed'}"))
        text = _clean(str(failure.get("text") or "")) or None
        if outcome == "failed":
            case.add_failure_info(message=message, output=text, failure_type=str(failure.get("type") or "failure"))
        elif outcome == "error":
            case.add_error_info(message=message, output=text, error_type=str(failure.get("type") or "error"))
        elif outcome in ("skipped", "xfailed"):
            case.add_skipped_info(message=str(outcome))
        elif outcome == "interrupted":
            case.add_skipped_info(message="interrupted: the session ended during this test")
        budget = entry.get("budget") or {}
        if budget.get("status") == "exceeded" and budget.get("mode", "fail") == "fail":
            case.add_failure_info(message=_clean(str(budget.get("text"))), failure_type="carbon-budget")
        delta = regressions.get(entry["nodeid"])
        if delta is not None and fail_regressions:
            case.add_failure_info(message=_clean(_delta_text(delta, metric)), failure_type="carbon-regression")
        cases.append(case)
        props.append({k: _clean(v) for k, v in _properties(entry).items()})
    session_case = _session_case(report, TestCase)
    if session_case is not None:
        cases.append(session_case)
        props.append({})
    session = report.get("session") or {}
    region = report.get("region") or {}
    suite = TestSuite(
        suite_name,
        cases,
        hostname=_clean(str((report.get("machine") or {}).get("hostname") or "")) or None,
        timestamp=(report.get("run") or {}).get("started_at"),
        properties={
            "energy_j": f"{session.get('energy_j', 0.0):.6g}",
            "co2_g": f"{session.get('co2_g', 0.0):.6g}",
            "region": _clean(str(region.get("code"))),
            "intensity_g_per_kwh": str(region.get("intensity_g_per_kwh")),
            "run_id": str((report.get("run") or {}).get("id")),
        },
    )
    suite_el = suite.build_xml_doc()
    for case_el, case_props in zip(suite_el.iter("testcase"), props, strict=True):
        if not case_props:
            continue
        prop_el = ET.Element("properties")
        for key, value in case_props.items():
            ET.SubElement(prop_el, "property", {"name": key, "value": value})
        case_el.insert(0, prop_el)
    root = ET.Element("testsuites")
    for key in ("tests", "failures", "errors", "skipped", "time"):
        root.set(key, suite_el.get(key, "0"))
    root.append(suite_el)
    return root


def _delta_text(delta: dict[str, Any], metric: str) -> str:
    def fmt(value: float) -> str:
        return format_quantity(value, metric)

    rel = delta.get("relative")
    rel_text = "new" if rel is None else f"{rel * 100:+.1f}%"
    text = f"carbon regression: {fmt(delta['base'])} -> {fmt(delta['new'])} ({rel_text}) against the baseline"
    band = delta.get("band")
    if isinstance(band, list) and len(band) == 2:
        runs = int(delta.get("base_runs") or 1)
        text += f" (median of {runs} run{'s' if runs != 1 else ''}, band {fmt(band[0])}..{fmt(band[1])})"
    if delta.get("reason"):
        text += f": {delta['reason']}"
    return text


def _session_case(report: dict[str, Any], test_case: Any) -> Any:
    budget = (report.get("budget") or {}).get("session") or {}
    comparison = report.get("comparison") or {}
    failures = []
    if budget.get("status") == "exceeded" and budget.get("mode", "fail") == "fail":
        failures.append(("carbon-budget", str(budget.get("text"))))
    if comparison.get("fail_on_regression") and (comparison.get("session") or {}).get("regressed"):
        failures.append(("carbon-regression", _delta_text(comparison["session"], comparison.get("metric", "energy"))))
    if not budget and not comparison:
        return None
    case = test_case(
        "session",
        classname="pytest-carbon",
        elapsed_sec=(report.get("session") or {}).get("duration_s"),
        allow_multiple_subelements=True,
    )
    for kind, text in failures:
        case.add_failure_info(message=_clean(text), failure_type=kind)
    return case


def render_junit(report: dict[str, Any]) -> str:
    """The JUnit XML document as text."""
    root = build_xml(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the JUnit XML atomically."""
    write_text_atomic(path, render_junit(report))
