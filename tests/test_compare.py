"""The regression verdict on plain report dicts: noise, significance, calibration, comparability."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from reportdata import AWS_IE, make_report

from pytest_carbon.calibrate import METHOD, NOMINAL_S
from pytest_carbon.compare import (
    REFERENCE_W,
    Stat,
    baseline_of,
    benjamini_hochberg,
    comparable,
    compare,
    controls_by_module,
    log_spread,
    moderated,
    module_of,
    p_increase,
    repeats_decide,
)
from pytest_carbon.compare import (
    test_figures as figures_of,
)

NAMES = [f"t.py::test_{i}" for i in range(40)]


def cpu_report(
    cpu: dict[str, float], *, calibration_s: float = NOMINAL_S, run_id: str = "0" * 32, **kw: Any
) -> dict[str, Any]:
    """A report whose tests used ``cpu`` seconds of CPU, timed with ``calibration_s``."""
    report = make_report([(name, 1.0) for name in cpu], remainder_j=0.0, run_id=run_id, **kw)
    for entry in report["tests"]:
        entry["cpu_time_s"] = cpu[entry["nodeid"]]
    report["calibration"] = {"cpu_s": calibration_s, "samples": 5, "spread": 0.02}
    report["run"]["selection"] = "s"
    report["run"]["workers"] = 0
    return report


def noisy_runs(n: int, *, noise: float = 0.08, seed: int = 1, names: list[str] = NAMES) -> list[Any]:
    """``n`` runs of the same 40 tests (0.05 to 2 s of CPU), each with log-normal noise."""
    rng = random.Random(seed)
    runs = []
    for r in range(n):
        run_factor = math.exp(rng.gauss(0, noise / 2))  # shared by the whole run
        cpu = {}
        for i, name in enumerate(names):
            base = 0.05 * (1.1**i)
            cpu[name] = base * run_factor * math.exp(rng.gauss(0, noise))
        runs.append(cpu_report(cpu, calibration_s=NOMINAL_S * run_factor, run_id=f"{r:032d}"))
    return runs


def test_reference_figure_is_cpu_time_corrected_by_the_calibration() -> None:
    fast = cpu_report({"t.py::a": 1.0}, calibration_s=NOMINAL_S)
    slow = cpu_report({"t.py::a": 1.5}, calibration_s=NOMINAL_S * 1.5)  # a machine 1.5x slower, same work
    assert figures_of(fast, "reference")["t.py::a"] == pytest.approx(REFERENCE_W)
    assert figures_of(slow, "reference")["t.py::a"] == pytest.approx(REFERENCE_W)


def test_statistics_building_blocks() -> None:
    assert log_spread([1.0]) is None
    assert log_spread([1.0, 1.0, 1.0]) == 0.0
    assert log_spread([1.0, math.e]) == pytest.approx(1 / math.sqrt(2))
    assert moderated(None, 1, 0.1) == 0.1
    assert moderated(0.0, 5, 0.1) == pytest.approx(math.sqrt(4 * 0.01 / 8))
    assert moderated(0.3, 5, 0.1) == pytest.approx(math.sqrt((4 * 0.01 + 4 * 0.09) / 8))
    assert p_increase(1.0, 5, 1.0, 1, 0.1) == pytest.approx(0.5)
    assert p_increase(1.0, 5, 2.0, 3, 0.1) < 1e-6
    assert p_increase(1.0, 5, 0.5, 3, 0.1) > 1 - 1e-6
    # Benjamini-Hochberg: the largest k whose k-th smallest p is at most k alpha / m, and all below it
    assert benjamini_hochberg({"a": 0.001, "b": 0.04, "c": 0.5}, 0.05) == {"a"}
    assert benjamini_hochberg({"a": 0.03, "b": 0.032, "c": 0.04}, 0.05) == {"a", "b", "c"}
    assert benjamini_hochberg({"a": 0.02, "b": 0.5, "c": 0.6}, 0.05) == set()
    assert benjamini_hochberg({}, 0.05) == set()


def test_unchanged_code_within_the_noise_does_not_fail() -> None:
    for seed in range(20):
        runs = noisy_runs(6, seed=seed)
        result = compare(runs[:5], runs[5], threshold=0.15)
        assert not result.fails, (seed, [d.text() for d in result.regressions])
        assert result.judged > 20 and result.base_runs == 5


def test_a_real_regression_fails_and_says_why() -> None:
    runs = noisy_runs(6)
    for entry in runs[5]["tests"]:
        if entry["nodeid"] == NAMES[30]:
            entry["cpu_time_s"] *= 1.6
    result = compare(runs[:5], runs[5], threshold=0.15)
    assert [d.subject for d in result.regressions] == [NAMES[30]]
    assert result.fails
    delta = result.regressions[0]
    text = delta.text()
    assert "median of 5 runs, band" in text and ": regression, significant (p=" in text
    data = result.to_dict()
    assert data["regressions"][0]["subject"] == NAMES[30] and data["regressed"] and data["failed"]
    assert data["regressions"][0]["base_runs"] == 5 and len(data["regressions"][0]["band"]) == 2
    assert data["within_noise"] + len(data["regressions"]) + len(data["improvements"]) == data["judged"]


def test_a_machine_wide_slowdown_alone_fails_nothing() -> None:
    runs = noisy_runs(5)
    slow_cpu = {e["nodeid"]: e["cpu_time_s"] * 1.4 for e in runs[-1]["tests"]}
    slow = cpu_report(slow_cpu, calibration_s=NOMINAL_S * 1.4)  # the calibration was 1.4x slower too
    result = compare(runs, slow, threshold=0.15)
    assert not result.regressed
    # the same slowdown without the calibration's word for it is a regression of every test
    raw = compare(runs, cpu_report(slow_cpu), threshold=0.15)
    assert raw.session.regressed


def test_a_slowdown_of_every_test_through_the_code_fails_the_session() -> None:
    runs = noisy_runs(6)
    slower = cpu_report({e["nodeid"]: e["cpu_time_s"] * 1.2 for e in runs[5]["tests"]}, calibration_s=NOMINAL_S)
    result = compare(runs[:5], slower, threshold=0.1)
    assert result.session.regressed and result.fails


def test_confirmations_replace_the_screening_figure() -> None:
    runs = noisy_runs(6)
    new = runs[5]
    entry = next(e for e in new["tests"] if e["nodeid"] == NAMES[35])
    entry["cpu_time_s"] *= 2.5  # looked regressed once
    looks = compare(runs[:5], new, threshold=0.15)
    assert NAMES[35] in [d.subject for d in looks.regressions]
    # measured again three times, it is its usual self: not a regression
    usual = next(e["cpu_time_s"] for e in runs[4]["tests"] if e["nodeid"] == NAMES[35])
    entry["confirmations"] = {"cpu_time_s": [usual, usual * 1.02, usual * 0.98], "reason": "regression"}
    comparable = {"controls": 3, "repeat_ratio": 0.98, "comparable": True}
    cleared = compare(runs[:5], new, threshold=0.15, confirmations=comparable)
    delta = next(d for d in cleared.tests if d.subject == NAMES[35])
    assert delta.confirmed and len(delta.measurements) == 3 and not delta.regressed
    assert "not confirmed: 3 repeat(s) after the run gave" in delta.text()
    # in a run where second runs are much faster than first ones (caches), repeats clear nothing
    cached = {"controls": 3, "repeat_ratio": 0.6, "comparable": False}
    stands = next(d for d in compare(runs[:5], new, confirmations=cached).tests if d.subject == NAMES[35])
    assert stands.regressed
    assert "repeats are not comparable in this run (a second run of 3 unchanged test(s) took 60% of its first)" in (
        stands.reason
    )
    unknown = next(d for d in compare(runs[:5], new).tests if d.subject == NAMES[35])
    assert unknown.regressed and "no unchanged test could be run again to check" in unknown.reason
    # one repeat back in the band cannot tell noise in the run from caches the run warmed
    entry["confirmations"]["cpu_time_s"] = [usual]
    single = next(
        d for d in compare(runs[:5], new, threshold=0.15, confirmations=comparable).tests if d.subject == NAMES[35]
    )
    assert single.regressed and "one repeat cannot tell" in single.reason
    # repeats that disagree by more than the threshold (a cache warming) clear nothing either
    entry["confirmations"]["cpu_time_s"] = [usual * 1.1, usual * 0.85, usual * 0.9]
    unsteady = next(
        d for d in compare(runs[:5], new, threshold=0.15, confirmations=comparable).tests if d.subject == NAMES[35]
    )
    assert unsteady.regressed and "they disagree by more than the threshold" in unsteady.reason
    # measured again as high: confirmed
    entry["confirmations"]["cpu_time_s"] = [usual * 2.4, usual * 2.5, usual * 2.6]
    confirmed = next(
        d for d in compare(runs[:5], new, threshold=0.15, confirmations=comparable).tests if d.subject == NAMES[35]
    )
    assert confirmed.regressed and "; confirmed: 3 repeat(s)" in confirmed.reason
    # much faster the second time in the process (a cache): the main run's verdict stands, said so
    entry["confirmations"]["cpu_time_s"] = [usual * 0.01] * 3
    warm = next(
        d for d in compare(runs[:5], new, threshold=0.15, confirmations=comparable).tests if d.subject == NAMES[35]
    )
    assert warm.regressed and "not comparable (warm caches?)" in warm.reason


def test_whether_repeats_can_clear_is_decided_by_the_tests_module() -> None:
    names = [f"{'cached' if i % 2 else 'plain'}.py::test_{i}" for i in range(40)]
    runs = noisy_runs(6, names=names)
    new = runs[5]
    entries = {e["nodeid"]: e for e in new["tests"]}
    usual = {e["nodeid"]: e["cpu_time_s"] for e in runs[4]["tests"]}
    cached, plain = names[35], names[34]
    for name in (cached, plain):  # each looked regressed once, and was measured again as usual
        entries[name]["cpu_time_s"] *= 2.5
        entries[name]["confirmations"] = {"cpu_time_s": [usual[name]] * 3, "reason": "regression"}
    # the whole run's controls say a second run is like a first; cached.py's own say otherwise
    summary = {
        "controls": 4,
        "repeat_ratio": 0.97,
        "comparable": True,
        "modules": {"cached.py": [0.62, 0.7], "plain.py": [1.01, 0.97]},
    }
    result = {d.subject: d for d in compare(runs[:5], new, threshold=0.15, confirmations=summary).tests}
    assert not result[plain].regressed and "not confirmed" in result[plain].reason
    assert result[cached].regressed
    assert "a second run of 2 unchanged test(s) of its module took 66% of the first" in result[cached].reason
    # a module without controls of its own: the whole run's decide
    summary["modules"] = {"plain.py": [1.01, 0.97]}
    result = {d.subject: d for d in compare(runs[:5], new, threshold=0.15, confirmations=summary).tests}
    assert not result[cached].regressed
    # another test of the module ran far below its baseline when repeated: caches are warm there
    sibling = names[33]
    entries[sibling]["confirmations"] = {"cpu_time_s": [usual[sibling] * 0.01], "reason": "regression"}
    result = {d.subject: d for d in compare(runs[:5], new, threshold=0.15, confirmations=summary).tests}
    assert result[cached].regressed
    assert f"not comparable in its module ({sibling} ran at 1% of its baseline" in result[cached].reason
    assert not result[plain].regressed


def test_repeats_decide_once_they_confirm_or_run_far_below() -> None:
    stat = Stat(1.0, 0.05, 5)
    assert repeats_decide(stat, [1.4], 0.15)  # confirmed: over the threshold and the band
    assert repeats_decide(stat, [0.3], 0.15)  # far below: not comparable, the main run's verdict stands
    assert not repeats_decide(stat, [1.05], 0.15)  # back in the band: more repeats are needed
    assert not repeats_decide(stat, [], 0.15)


def test_the_controls_are_summed_up_by_module() -> None:
    summary = controls_by_module({"a.py": [0.5, 0.7], "b.py": [1.0], "c.py": []}, 0.15)
    assert summary["controls"] == 3 and summary["repeat_ratio"] == pytest.approx(0.7)
    assert summary["comparable"] is False and summary["comparable_at"] == pytest.approx(1 / 1.15)
    assert summary["modules"] == {"a.py": [0.5, 0.7], "b.py": [1.0]}
    assert controls_by_module({}, 0.15) == {}
    assert module_of("pkg/test_x.py::TestA::test_b[1]") == "pkg/test_x.py"


def test_tiny_tests_are_not_judged() -> None:
    base = cpu_report({"t.py::tiny": 0.0001, "t.py::big": 1.0})
    new = cpu_report({"t.py::tiny": 0.001, "t.py::big": 1.0})  # 10x, but 10 mJ
    result = compare(base, new, threshold=0.15)
    tiny = next(d for d in result.tests if d.subject == "t.py::tiny")
    assert tiny.verdict == "not judged" and not result.regressed
    assert result.judged == 1


def test_single_baseline_needs_a_large_change() -> None:
    base = cpu_report({"t.py::a": 1.0, "t.py::b": 1.0})
    assert not compare(base, cpu_report({"t.py::a": 1.2, "t.py::b": 1.0}), threshold=0.15).regressed
    big = compare(base, cpu_report({"t.py::a": 3.0, "t.py::b": 1.0}), threshold=0.15)
    assert [d.subject for d in big.regressions] == ["t.py::a"]


def test_improvement_added_and_removed() -> None:
    base = cpu_report({"t.py::a": 2.0, "t.py::gone": 1.0})
    new = cpu_report({"t.py::a": 0.5, "t.py::new": 1.0})
    result = compare(base, new, threshold=0.15)
    assert [d.subject for d in result.improvements] == ["t.py::a"]
    assert result.added == ("t.py::new",)
    assert result.removed == ("t.py::gone",)
    assert not result.fails
    assert any("the session is not judged: the baseline ran other tests" in n for n in result.notes)


def test_energy_and_co2_metrics_are_still_available() -> None:
    base = make_report([("t.py::a", 10.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 10.0)], remainder_j=0.0, region=AWS_IE)  # same energy, dirtier grid
    assert not compare(base, new, threshold=0.15, metric="energy").regressed
    co2 = compare(base, new, threshold=0.15, metric="co2")
    assert co2.session.regressed and co2.fails
    assert any("region differs" in note for note in co2.notes)
    with pytest.raises(ValueError, match="unknown metric"):
        compare(base, new, metric="joules")  # type: ignore[arg-type]


def test_mismatched_baselines_are_noted() -> None:
    base = cpu_report({"t.py::a": 1.0})
    other_machine = cpu_report({"t.py::a": 1.0})
    other_machine["machine"]["cpu_model"] = "AMD EPYC 7763 64-Core Processor"
    assert comparable(other_machine, base) == "another machine class (CPU model, threads or probes)"
    other_selection = cpu_report({"t.py::a": 1.0})
    other_selection["run"]["selection"] = "t"
    assert comparable(other_selection, base) == "another test selection"
    workers = cpu_report({"t.py::a": 1.0})
    workers["run"]["workers"] = 2
    assert comparable(workers, base) == "another number of xdist workers"
    assert comparable(cpu_report({"t.py::a": 1.0}), base) is None
    # reports without a method took the median of the quickest of three parts: not comparable
    # with a trimmed mean in the reference metric, which the calibration divides; the others are
    older, newer = cpu_report({"t.py::a": 1.0}), cpu_report({"t.py::a": 1.0})
    newer["calibration"]["method"] = METHOD
    assert comparable(older, newer) == "another calibration method (an older pytest-carbon)"
    assert comparable(older, newer, metric="energy") is None
    assert any("another calibration method" in n for n in compare(older, newer).notes)
    notes = compare(other_machine, base).notes
    assert any("another machine class" in n for n in notes)


def test_old_reports_without_calibration_are_said_so() -> None:
    base = make_report([("t.py::a", 10.0)], remainder_j=0.0)
    new = make_report([("t.py::a", 10.0)], remainder_j=0.0)
    notes = compare(base, new).notes
    assert any("this run has no calibration" in n for n in notes)


def test_pooled_noise_from_the_history() -> None:
    runs = noisy_runs(8, noise=0.1)
    baseline = baseline_of(runs, "reference")
    assert baseline.runs == 8
    assert 0.04 < baseline.pooled_noise < 0.2
    assert all(stat.runs == 8 for stat in baseline.tests.values())
