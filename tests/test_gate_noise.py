"""The gate in real sessions: history baselines, confirmations, opt-outs, time bounds, budgets, xdist.

The inner tests do controlled CPU work (a loop of a known length; ``SLOW`` names the test that does
60 % more), so that a regression is a real change in CPU time, measured by the plugin.
"""

from __future__ import annotations

import os
from typing import Any

import jsonschema
import pytest
from conftest import load_report

from pytest_carbon.calibrate import METHOD, MIN_SAMPLES
from pytest_carbon.confirm import CONTROLS_SHARE, OVERRUN
from pytest_carbon.reports.json import schema

SUITE = """
import os
import pytest

def burn(n):
    x = 0
    for i in range(n):
        x += i * i
    return x

@pytest.mark.parametrize("k", range(4))
def test_work(k):
    n = 250000 * (k + 1)
    if os.environ.get("SLOW") == str(k):
        n = int(n * float(os.environ.get("SLOWBY", "1.8")))
    burn(n)

@pytest.mark.carbon_no_repeat
def test_once():
    burn(int(900000 * (1.8 if os.environ.get("SLOW") == "once" else 1)))
"""

GATE = ("--carbon-compare=history", "--carbon-compare-fail=15%", "--carbon-confirm-time=600%")


def _run(pytester: pytest.Pytester, *args: str, slow: str | None = None, by: float = 1.8) -> pytest.RunResult:
    env = {"SLOW": slow, "SLOWBY": str(by)} if slow else {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return pytester.runpytest_subprocess("--carbon", "-p", "no:cacheprovider", *args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _history(pytester: pytest.Pytester, runs: int = 3, *args: str, passed: int = 5) -> None:
    pytester.makepyfile(test_suite=SUITE)
    for _ in range(runs):
        result = _run(pytester, *args)
        result.assert_outcomes(passed=passed)


def _entry(report: dict[str, Any], nodeid: str) -> dict[str, Any]:
    return next(e for e in report["tests"] if e["nodeid"] == nodeid)


def test_every_run_carries_what_the_gate_needs(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_suite=SUITE)
    out = carbon_pytester.path / "r.json"
    _run(carbon_pytester, f"--carbon-json={out}").assert_outcomes(passed=5)
    report = load_report(out)
    jsonschema.validate(report, schema())
    cal = report["calibration"]
    assert cal["samples"] >= MIN_SAMPLES and 1e-4 < cal["cpu_s"] < 0.1 and cal["method"] == METHOD
    assert len(report["run"]["selection"]) == 16 and report["run"]["workers"] == 0
    assert "confirmations" not in report["session"]


def test_a_regression_is_confirmed_and_outcomes_do_not_change(carbon_pytester: pytest.Pytester) -> None:
    _history(carbon_pytester)
    out = carbon_pytester.path / "new.json"
    junit = carbon_pytester.path / "junit.xml"
    result = _run(carbon_pytester, *GATE, f"--carbon-json={out}", f"--junitxml={junit}", slow="3")
    result.assert_outcomes(passed=5)  # pytest's own counts: the repeats are not reported
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "regression test_suite.py::test_work[[]3[]]: * (median of 3 runs, band *) -> * "
            "(+*, +*%): regression, significant (p=*; confirmed: * repeat(s) after the run gave *",
            "confirmations: * test(s) measured again * time(s) in * s",
            "carbon gate FAILED: reference regression over 15% against the median of the last 3 comparable *",
        ]
    )
    assert junit.read_text(encoding="utf-8").count("<testcase ") == 5
    report = load_report(out)
    jsonschema.validate(report, schema())
    entry = _entry(report, "test_suite.py::test_work[3]")
    assert entry["outcome"] == "passed"
    # repeated until its repeats decided it (here: confirmed, +80 %), at most --carbon-confirm times
    assert entry["confirmations"]["reason"] == "regression" and 1 <= len(entry["confirmations"]["cpu_time_s"]) <= 3
    # the repeats' energy is kept apart from the test's own figures
    conf = report["session"]["confirmations"]
    assert conf["tests"] >= 1 and conf["energy_j"] > 0
    # unchanged tests run again as controls: this suite keeps no cache, a second run is like a first
    assert conf["controls"] >= 1 and conf["comparable"] is True and 0.6 < conf["repeat_ratio"] < 1.6
    tests_j = sum(e["energy_j"] for e in report["tests"])
    assert tests_j + report["session"]["unattributed_energy_j"] == pytest.approx(report["session"]["energy_j"])
    comparison = report["comparison"]
    assert comparison["failed"] and comparison["base_runs"] == 3
    assert [d["subject"] for d in comparison["regressions"]] == ["test_suite.py::test_work[3]"]
    delta = comparison["regressions"][0]
    assert delta["confirmed"] and delta["verdict"] == "regression" and delta["p_value"] < 0.025


def test_unchanged_code_passes(carbon_pytester: pytest.Pytester) -> None:
    _history(carbon_pytester)
    result = _run(carbon_pytester, *GATE)
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["* test(s) judged: 0 regressed, *"])


def test_carbon_no_repeat_is_honoured(carbon_pytester: pytest.Pytester) -> None:
    _history(carbon_pytester)
    out = carbon_pytester.path / "new.json"
    result = _run(carbon_pytester, *GATE, f"--carbon-json={out}", slow="once")
    result.assert_outcomes(passed=5)
    report = load_report(out)
    assert "confirmations" not in _entry(report, "test_suite.py::test_once")
    assert any("test_once looked regressed but is marked carbon_no_repeat" in w for w in report.get("warnings", []))


def test_confirmations_are_bounded_in_time(carbon_pytester: pytest.Pytester) -> None:
    _history(carbon_pytester)
    out = carbon_pytester.path / "new.json"
    result = _run(carbon_pytester, *GATE, "--carbon-confirm-time=0%", "--carbon-json=new.json", slow="3", by=4)
    result.assert_outcomes(passed=5)
    report = load_report(out)
    conf = report["session"]["confirmations"]
    assert conf["tests"] == 0 and conf["skipped"] >= 1 and conf["allowed_s"] == 0
    result.stdout.fnmatch_lines(
        ["confirmations: 0 test(s) measured again 0 time(s)*, * not measured again (time bound)"]
    )
    # --carbon-confirm=0: nobody is run twice
    out2 = carbon_pytester.path / "off.json"
    _run(carbon_pytester, *GATE, "--carbon-confirm=0", f"--carbon-json={out2}", slow="3").assert_outcomes(passed=5)
    assert "confirmations" not in load_report(out2)["session"]


def test_a_baseline_of_another_selection_is_left_out(carbon_pytester: pytest.Pytester) -> None:
    _history(carbon_pytester, 2, "-k", "work", passed=4)
    result = _run(carbon_pytester, *GATE)
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "error: --carbon-compare=history: no comparable stored run (2 stored run(s) left out of the baseline: "
            "another test selection): no comparison"
        ]
    )


def test_a_budget_within_its_noise_is_measured_again(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(
        test_budget="""
import time
def test_heavy():
    time.sleep(0.3)  # its energy is mostly static power for a steady time: a steady figure
"""
    )
    first = carbon_pytester.path / "first.json"
    _run(carbon_pytester, f"--carbon-json={first}").assert_outcomes(passed=1)
    energy = _entry(load_report(first), "test_budget.py::test_heavy")["energy_j"]
    confirmed = 0
    for attempt in range(4):
        # a limit about 16 % under the usual figure: usually over it, within its noise
        out = carbon_pytester.path / f"b{attempt}.json"
        result = _run(
            carbon_pytester,
            f"--carbon-test-budget={energy / 1.16:.6g} J",
            "--carbon-confirm-time=300%",
            f"--carbon-json={out}",
        )
        report = load_report(out)
        entry = _entry(report, "test_budget.py::test_heavy")
        verdict = entry["budget"]
        if "confirmations" in entry:
            confirmed += 1
            result.assert_outcomes(passed=1)  # the test itself passed: the run fails on the verdict
            values = entry["confirmations"]["energy_j"]
            assert len(values) == 3  # a repeat is never failed by the budget it is measuring
            assert verdict["measurements"] == values
            ordered = sorted(values)
            n = len(ordered)
            middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
            assert verdict["measured_si"] == pytest.approx(middle)
            assert (verdict["status"] == "exceeded") == (middle > verdict["limit_si"])
            assert result.ret == (1 if middle > verdict["limit_si"] else 0)
            assert f"median of {n} measurements after the run" in verdict["text"]
        elif verdict["status"] == "exceeded":
            result.assert_outcomes(failed=1)  # beyond the noise: failed at once, as before
        else:
            result.assert_outcomes(passed=1)
    assert confirmed >= 1
    # far over the limit: no second measurement, the test fails at once
    far = _run(carbon_pytester, f"--carbon-test-budget={energy / 4:.6g} J", "--carbon-json=far.json")
    far.assert_outcomes(failed=1)
    assert "confirmations" not in _entry(load_report(carbon_pytester.path / "far.json"), "test_budget.py::test_heavy")


def test_under_xdist_the_workers_confirm_their_own_tests(carbon_pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _history(carbon_pytester, 3, "-n", "2")
    out = carbon_pytester.path / "new.json"
    result = _run(carbon_pytester, "-n", "2", *GATE, f"--carbon-json={out}", slow="3")
    result.assert_outcomes(passed=5)
    assert result.ret == 1
    report = load_report(out)
    jsonschema.validate(report, schema())
    assert report["run"]["workers"] == 2 and set(report["calibration"]["workers"]) == {"gw0", "gw1"}
    entry = _entry(report, "test_suite.py::test_work[3]")
    assert entry["confirmations"]["reason"] == "regression"
    assert [d["subject"] for d in report["comparison"]["regressions"]] == ["test_suite.py::test_work[3]"]
    # the controller works the controls' verdict out again from every worker's ratios, by module
    conf = report["session"]["confirmations"]
    assert isinstance(conf["comparable"], bool) and conf["comparable_at"] == pytest.approx(1 / 1.15)
    assert conf["controls"] == len(conf["modules"]["test_suite.py"]) >= 1
    # a serial run is not compared with the -n 2 runs
    serial = _run(carbon_pytester, *GATE)
    serial.stdout.fnmatch_lines(["*another number of xdist workers*"])


def test_bad_gate_options_are_refused(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile("def test_a(): pass")
    for option, words in (
        ("--carbon-compare-alpha=2", "between 0 and 1"),
        ("--carbon-compare-runs=0", "1 or more"),
        ("--carbon-confirm=-1", "0 or more"),
        ("--carbon-compare-metric=joules", "reference, energy, co2"),
    ):
        result = carbon_pytester.runpytest("--carbon", option)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{words}*"])


def test_under_xdist_a_budget_within_its_noise_is_measured_again(carbon_pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    carbon_pytester.makepyfile(
        test_budget="""
import time
def test_heavy():
    time.sleep(0.3)

def test_light():
    pass
"""
    )
    first = carbon_pytester.path / "first.json"
    _run(carbon_pytester, "-n", "2", f"--carbon-json={first}").assert_outcomes(passed=2)
    energy = _entry(load_report(first), "test_budget.py::test_heavy")["energy_j"]
    out = carbon_pytester.path / "b.json"
    result = _run(
        carbon_pytester,
        "-n",
        "2",
        f"--carbon-test-budget={energy / 1.16:.6g} J",
        "--carbon-confirm-time=300%",
        f"--carbon-json={out}",
    )
    report = load_report(out)
    jsonschema.validate(report, schema())
    entry = _entry(report, "test_budget.py::test_heavy")
    verdict = entry["budget"]
    if "confirmations" in entry:
        result.assert_outcomes(passed=2)  # measured again on its worker: pytest's outcome is its own
        assert entry["confirmations"]["reason"] == "budget"
        assert len(entry["confirmations"]["energy_j"]) == 3
        assert verdict["measurements"] == entry["confirmations"]["energy_j"]
        assert result.ret == (1 if verdict["status"] == "exceeded" else 0)
    else:  # the worker's figure fell outside the band: failed at once or met, never re-measured
        assert verdict["status"] in ("exceeded", "ok")
    assert _entry(report, "test_budget.py::test_light")["budget"]["status"] == "ok"


CACHED = """
import functools
import os
import pytest

@functools.lru_cache(maxsize=None)
def table(k, size):
    x = 0
    for i in range(size):
        x += i * i
    return x

@pytest.mark.parametrize("k", range(4))
def test_cached(k):
    table(k, 500000 * (k + 1))  # the first call in a process computes, a second call finds it cached
    if os.environ.get("SLOW") == str(k):
        table(k + 10, 800000 * (k + 1))
"""


def test_repeats_of_code_that_caches_clear_nothing(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_suite=CACHED)
    for _ in range(3):
        _run(carbon_pytester).assert_outcomes(passed=4)
    out = carbon_pytester.path / "new.json"
    result = _run(carbon_pytester, *GATE, f"--carbon-json={out}", slow="3")
    result.assert_outcomes(passed=4)
    report = load_report(out)
    conf = report["session"]["confirmations"]
    assert conf["comparable"] is False and conf["repeat_ratio"] < 0.5
    regression = next(d for d in report["comparison"]["regressions"] if d["subject"] == "test_suite.py::test_cached[3]")
    assert "repeats are not comparable in its module" in regression["reason"]
    assert result.ret == 1


STATEFUL = (
    SUITE.split("@pytest.mark.carbon_no_repeat")[0]
    .replace("import pytest\n", 'import time\nimport pytest\n\nSTATE = {"after": False}\n', 1)
    .replace(
        "def test_work(k):\n",
        "def test_work(k):\n"
        '    if STATE["after"]:\n'
        "        time.sleep(1.5)  # a test after the run finds the state the last test left behind\n",
        1,
    )
    + 'def test_zz_leaves_state_behind():\n    STATE["after"] = True\n'
)


def test_repeats_far_over_their_time_are_stopped_and_two_in_a_row_stop_the_confirmations(
    carbon_pytester: pytest.Pytester,
) -> None:
    carbon_pytester.makepyfile(test_suite=STATEFUL)
    for _ in range(3):
        _run(carbon_pytester).assert_outcomes(passed=5)
    out = carbon_pytester.path / "new.json"
    # a bound wide enough for the sleeps: the timer stops each repeat at OVERRUN times its time in the run
    result = _run(carbon_pytester, *GATE, "--carbon-confirm-time=5000%", f"--carbon-json={out}", slow="3")
    result.assert_outcomes(passed=5)
    report = load_report(out)
    conf = report["session"]["confirmations"]
    assert conf["allowed_s"] * CONTROLS_SHARE > 2.0
    # both controls slept (the state the last test left behind): each stopped long before its 1.5 s,
    # and after the second nothing more was repeated
    assert conf["runs"] == 0 and conf["tests"] == 0
    first, second = conf["repeats"]
    for repeat in (first, second):
        assert repeat["reason"] == "control"
        assert repeat["wall_s"] < min(OVERRUN * repeat["expected_s"] + 0.25, 1.5)
    assert conf["duration_s"] < 1.5
    notes = [w for w in report["warnings"] if "times its time in the run" in w]
    assert len(notes) == 2 and "two in a row: the confirmations stopped there" in notes[1], report["warnings"]


ONE_STATEFUL = STATEFUL.replace('    if STATE["after"]:\n', '    if STATE["after"] and k == 2:\n', 1)


def test_one_test_far_over_its_time_is_stopped_and_the_others_are_still_repeated(
    carbon_pytester: pytest.Pytester,
) -> None:
    assert ONE_STATEFUL != STATEFUL
    carbon_pytester.makepyfile(test_suite=ONE_STATEFUL)
    for _ in range(3):
        _run(carbon_pytester).assert_outcomes(passed=5)
    out = carbon_pytester.path / "new.json"
    result = _run(carbon_pytester, *GATE, f"--carbon-json={out}", slow="3")
    result.assert_outcomes(passed=5)
    report = load_report(out)
    conf = report["session"]["confirmations"]
    stopped = [r for r in conf["repeats"] if r["nodeid"] == "test_suite.py::test_work[2]"]
    assert len(stopped) == 1 and stopped[0]["wall_s"] < min(OVERRUN * stopped[0]["expected_s"] + 0.25, 1.5)
    # the other control gave its ratio, and the suspect was measured again (and confirmed: it is slower)
    assert list(conf["modules"]) == ["test_suite.py"] and len(conf["modules"]["test_suite.py"]) == 1
    entry = _entry(report, "test_suite.py::test_work[3]")
    assert len(entry["confirmations"]["cpu_time_s"]) >= 1
    assert any("test_work[2]: a repeat ran" in w and "not repeated again" in w for w in report["warnings"])
    assert not any("stopped there" in w for w in report["warnings"]), report["warnings"]
    assert result.ret == 1


LONG_REPEAT = "CALLS = {}\n" + SUITE.replace("import pytest\n", "import time\nimport pytest\n", 1).replace(
    "    burn(n)\n",
    "    burn(n)\n"
    "    CALLS[k] = CALLS.get(k, 0) + 1\n"
    '    if os.environ.get("SLOW") == str(k):\n'
    "        # a second in the run (its expected time), ten when repeated: the bound stops it first\n"
    "        time.sleep(1.0 if CALLS[k] == 1 else 10.0)\n",
    1,
)


def test_a_repeat_that_runs_past_the_time_bound_is_stopped_there(carbon_pytester: pytest.Pytester) -> None:
    assert LONG_REPEAT.count("time.sleep") == 1
    carbon_pytester.makepyfile(test_suite=LONG_REPEAT)
    for _ in range(3):
        _run(carbon_pytester).assert_outcomes(passed=5)
    out = carbon_pytester.path / "new.json"
    gate = ("--carbon-compare=history", "--carbon-compare-fail=15%", "--carbon-confirm-time=100%")
    result = _run(carbon_pytester, *gate, f"--carbon-json={out}", slow="3", by=4)
    result.assert_outcomes(passed=5)  # the stopped repeat is not a failure of the run
    report = load_report(out)
    conf = report["session"]["confirmations"]
    suspect = [r for r in conf["repeats"] if r["reason"] == "regression"]
    assert len(suspect) == 1 and suspect[0]["expected_s"] >= 1.0
    # it would have slept 10 s: the bound came before OVERRUN times its time, and stopped it
    assert conf["allowed_s"] < OVERRUN * suspect[0]["expected_s"]
    assert conf["duration_s"] <= conf["allowed_s"] + 0.25
    assert conf["runs"] == 0
    assert any("ran past the confirmations' time bound" in w for w in report["warnings"]), report["warnings"]
    assert result.ret == 1  # the main run's regression stands


BURST = "CALLS = {}\n" + SUITE.replace(
    '    n = 250000 * (k + 1)\n    if os.environ.get("SLOW") == str(k):\n',
    "    CALLS[k] = CALLS.get(k, 0) + 1\n"
    "    n = 250000 * (k + 1)\n"
    '    if os.environ.get("SLOW") == str(k) and CALLS[k] == 1:  # the main run only, as a burst would\n',
)


def test_a_regression_of_the_main_run_only_is_cleared_by_steady_repeats(carbon_pytester: pytest.Pytester) -> None:
    assert BURST != "CALLS = {}\n" + SUITE
    carbon_pytester.makepyfile(test_suite=BURST)
    for _ in range(3):
        _run(carbon_pytester).assert_outcomes(passed=5)
    out = carbon_pytester.path / "new.json"
    result = _run(carbon_pytester, *GATE, f"--carbon-json={out}", slow="3")
    result.assert_outcomes(passed=5)
    report = load_report(out)
    entry = _entry(report, "test_suite.py::test_work[3]")
    # measured again three times (none of the repeats decided it early), each back at its usual figure
    assert entry["confirmations"]["reason"] == "regression" and len(entry["confirmations"]["cpu_time_s"]) == 3
    conf = report["session"]["confirmations"]
    assert conf["modules"]["test_suite.py"] and conf["comparable"] is True
    comparison = report["comparison"]
    assert comparison["regressions"] == [] and not comparison["failed"]
    assert result.ret == 0
    result.stdout.no_fnmatch_line("*carbon gate FAILED*")


SWALLOWS = STATEFUL.replace(
    "        time.sleep(1.5)  # a test after the run finds the state the last test left behind\n",
    "        try:\n"
    "            time.sleep(1.5)  # the timer's first ring lands here, and the test swallows it\n"
    "        except BaseException:\n"
    "            pass\n"
    "        time.sleep(1.5)\n",
)


def test_a_repeat_that_swallows_the_timer_is_still_stopped_at_the_bound(carbon_pytester: pytest.Pytester) -> None:
    assert SWALLOWS != STATEFUL
    carbon_pytester.makepyfile(test_suite=SWALLOWS)
    for _ in range(3):
        _run(carbon_pytester).assert_outcomes(passed=5)
    out = carbon_pytester.path / "new.json"
    gate = ("--carbon-compare=history", "--carbon-compare-fail=15%", "--carbon-confirm-time=300%")
    result = _run(carbon_pytester, *gate, f"--carbon-json={out}", slow="3", by=4)
    result.assert_outcomes(passed=5)
    conf = load_report(out)["session"]["confirmations"]
    # the timer rang again after the swallowed ring: each repeat stopped at OVERRUN times its time in
    # the run, not 3 s later (and two such repeats in a row stopped the confirmations)
    assert len(conf["repeats"]) == 2
    for repeat in conf["repeats"]:
        assert repeat["wall_s"] < min(OVERRUN * repeat["expected_s"] + 0.25, 1.5)
    assert conf["duration_s"] <= conf["allowed_s"] + 0.25
