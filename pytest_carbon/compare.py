"""Regression verdicts of a report against a baseline of one or more earlier reports.

Plain dicts of the JSON's shape in, a ``Comparison`` out; nothing here imports pytest.

Which figure is judged (``metric``)
    ``reference`` (the default) follows the code and little else: a test's CPU time, divided by
    the run's calibration (``calibrate.py``: a fixed workload timed during the run, so that a
    slower or busier machine divides out), at a fixed reference power of ``REFERENCE_W`` per CPU
    second. Attributed energy also moves with a neighbour's load, the sampler's timing and the
    power model's load curve; CO2e moves with the grid as well. ``energy`` and ``co2`` judge
    those figures when they are what matters.

When a change is a regression
    All three of: larger than the relative ``threshold``; larger than the absolute floor
    (``TEST_FLOOR_J`` for a test, ``SESSION_FLOOR_J`` for the session, in joules of the metric;
    converted for CO2e); and significant given the noise. The noise is estimated in log space
    from the baseline runs (each test's standard deviation over the runs, moderated towards the
    spread pooled over all tests, because five runs say little about one test alone; a prior
    where there is one baseline run only). The test is a
    one-sided t test of the log ratio of the medians (the median's variance taken as pi/2 times
    the mean's; the degrees of freedom those of the moderated estimate). The tests judged form
    one family, corrected with the
    Benjamini-Hochberg procedure at ``alpha / 2`` (with unchanged code, no test at all is flagged
    with probability 1 - alpha / 2; with real regressions present it keeps more power than a
    family-wise correction); the session is judged on its own at ``alpha / 2``, so that
    unchanged code fails a run at most about ``alpha`` of the time. Only tests whose baseline is
    large enough for a threshold-sized change to pass the floor are judged; the others are
    counted as not judged.

Confirmations (the second stage)
    A test that looked regressed in the main run is measured again after it (``confirm.py``).
    The main run's figure is the one comparable with the baseline (the baseline's figures were
    taken the same way: once, in the run); the repeats decide whether it stands: repeats above
    the threshold confirm it; repeats far below the baseline (caches warm the second time in a
    process) are not comparable and leave it standing; repeats back within the baseline's band
    clear it only where the test's module shows second runs comparable with first ones (its
    controls, and no other test of it far below its baseline when repeated), and only two or
    more repeats that agree with each other (``_confirmation``). The reason says which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from pytest_carbon.calibrate import NOMINAL_S, median
from pytest_carbon.units import co2_g_per_j, format_percent, format_quantity

Metric = Literal["reference", "energy", "co2"]
METRICS: tuple[str, ...] = ("reference", "energy", "co2")

DEFAULT_METRIC: Metric = "reference"
DEFAULT_THRESHOLD = 0.15
DEFAULT_ALPHA = 0.05
#: joules a reference CPU second costs in the ``reference`` metric (about one busy core of a server)
REFERENCE_W = 10.0
SESSION_FLOOR_J = 0.5
TEST_FLOOR_J = 0.05
#: log-space noise assumed where the baseline cannot tell (one run): tests, the session
PRIOR_TEST_NOISE = 0.15
PRIOR_SESSION_NOISE = 0.03
MIN_NOISE = 0.02
#: weight of the pooled spread, in runs, when a test's own spread is moderated
PRIOR_RUNS = 4
#: false-discovery rate of the screening that picks the tests measured again
SCREEN_ALPHA = 0.1
_MEDIAN_VAR = math.pi / 2
_TINY = 1e-12


# ---------------------------------------------------------------------------- figures


def calibration_of(report: Mapping[str, Any], worker: str | None = None) -> float | None:
    """The report's calibration time (CPU seconds), a worker's own where it has one; None if absent."""
    cal = report.get("calibration")
    if not isinstance(cal, Mapping):
        return None
    if worker:
        own = (cal.get("workers") or {}).get(worker)
        if isinstance(own, (int, float)) and own > 0:
            return float(own)
    value = cal.get("cpu_s")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def reference_j(cpu_time_s: float, calibration_s: float | None) -> float:
    """A CPU time as joules at the reference power, corrected for the machine's speed."""
    scale = NOMINAL_S / calibration_s if calibration_s else 1.0
    return cpu_time_s * scale * REFERENCE_W


def test_figures(report: Mapping[str, Any], metric: Metric) -> dict[str, float]:
    """Each test's judged figure (a test that ran several times, its attempts summed)."""
    totals: dict[str, float] = {}
    for entry in report.get("tests", []):
        nodeid = str(entry["nodeid"])
        if metric == "reference":
            value = reference_j(float(entry.get("cpu_time_s") or 0.0), calibration_of(report, entry.get("worker")))
        else:
            value = float(entry.get("energy_j" if metric == "energy" else "co2_g") or 0.0)
        totals[nodeid] = totals.get(nodeid, 0.0) + value
    return totals


def repeat_figures(report: Mapping[str, Any], metric: Metric) -> dict[str, list[float]]:
    """The confirmations' measurements of each test that was measured again, in the metric's unit."""
    out: dict[str, list[float]] = {}
    for entry in report.get("tests", []):
        rep = entry.get("confirmations")
        if not isinstance(rep, Mapping):
            continue
        if metric == "reference":
            cal = calibration_of(report, entry.get("worker"))
            values = [reference_j(float(v), cal) for v in rep.get("cpu_time_s") or ()]
        else:
            values = [float(v) for v in rep.get("energy_j" if metric == "energy" else "co2_g") or ()]
        if values:
            out[str(entry["nodeid"])] = values
    return out


def session_figure(report: Mapping[str, Any], metric: Metric, tests: Mapping[str, float]) -> float:
    """The session's judged figure: its tests' reference figures summed, or the session's energy or CO2e."""
    if metric == "reference":
        return math.fsum(tests.values())
    return float((report.get("session") or {}).get("energy_j" if metric == "energy" else "co2_g") or 0.0)


# ---------------------------------------------------------------------------- statistics


def log_spread(values: Sequence[float]) -> float | None:
    """The sample standard deviation of the values' logarithms; None with fewer than two values."""
    logs = [math.log(max(v, _TINY)) for v in values]
    n = len(logs)
    if n < 2:
        return None
    mean = math.fsum(logs) / n
    return math.sqrt(math.fsum((x - mean) ** 2 for x in logs) / (n - 1))


def _chi2_median_factor(dof: int) -> float:
    """The median of a chi-square variable over its degrees of freedom (Wilson-Hilferty)."""
    return (1 - 2 / (9 * dof)) ** 3


def moderated(own: float | None, runs: int, prior: float) -> float:
    """A test's noise: its own spread over ``runs`` runs, moderated towards the pooled ``prior``.

    Both ways: a test whose few runs happened to agree does not get a band of almost nothing, and
    one whose few runs happened to spread is not taken for noisier than it is. (Keeping the larger
    of the two was tried: it cut the benchmark's detection of +30 % changes from 8-10 to 0-1 of 10.)
    """
    if own is None or runs < 2:
        return max(prior, MIN_NOISE)
    dof = runs - 1
    return max(math.sqrt((PRIOR_RUNS * prior**2 + dof * own**2) / (PRIOR_RUNS + dof)), MIN_NOISE)


def _var_factor(n: int) -> float:
    return _MEDIAN_VAR / n if n >= 3 else 1.0 / max(n, 1)


def _t_to_z(t: float, dof: float) -> float:
    """A Student t statistic as the normal deviate of the same tail (a close approximation, dof >= 3)."""
    if not math.isfinite(dof):
        return t
    return t * (1 - 1 / (4 * dof)) / math.sqrt(1 + t * t / (2 * dof))


def p_increase(base: float, n_base: int, new: float, n_new: int, noise: float, dof: float = math.inf) -> float:
    """One-sided p-value that ``new`` (a median of ``n_new``) is above ``base`` (of ``n_base``).

    ``dof``: the degrees of freedom of the noise estimate (a t test); infinite for a noise taken as known.
    """
    se = noise * math.sqrt(_var_factor(n_base) + _var_factor(n_new))
    t = (math.log(max(new, _TINY)) - math.log(max(base, _TINY))) / se
    z = _t_to_z(t, dof)
    return 0.5 * math.erfc(z / math.sqrt(2))


def benjamini_hochberg(pvalues: Mapping[str, float], alpha: float) -> set[str]:
    """The subjects the Benjamini-Hochberg step-up procedure rejects at false-discovery rate ``alpha``.

    When no subject really changed (unchanged code), it rejects none with probability at least
    1 - ``alpha``: the family-wise rate under the global null, which is what a gate on unchanged
    code needs; with real changes present it keeps more power than Holm's procedure.
    """
    ordered = sorted(pvalues.items(), key=lambda kv: kv[1])
    m = len(ordered)
    cut = 0
    for rank, (_, p) in enumerate(ordered, start=1):
        if p <= alpha * rank / m:
            cut = rank
    return {subject for subject, _ in ordered[:cut]}


class Stat(NamedTuple):
    """A subject's baseline: median over the runs, its noise (log-space sd) and how many runs."""

    median: float
    noise: float
    runs: int

    @property
    def dof(self) -> float:
        """Degrees of freedom of the noise estimate: the runs' and the pooled prior's."""
        return PRIOR_RUNS + self.runs - 1 if self.runs >= 2 else math.inf


class Baseline(NamedTuple):
    """Per-test and session baselines from one or more comparable reports."""

    metric: Metric
    tests: dict[str, Stat]
    session: Stat | None
    runs: int
    pooled_noise: float

    def to_wire(self) -> dict[str, Any]:
        """A plain form for the xdist workers (they screen their own tests)."""
        return {"metric": self.metric, "tests": {k: list(v) for k, v in self.tests.items()}, "runs": self.runs}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Baseline:
        """The inverse of ``to_wire``."""
        tests = {str(k): Stat(float(v[0]), float(v[1]), int(v[2])) for k, v in (data.get("tests") or {}).items()}
        return cls(data.get("metric", DEFAULT_METRIC), tests, None, int(data.get("runs", 1)), PRIOR_TEST_NOISE)


def baseline_of(bases: Sequence[Mapping[str, Any]], metric: Metric) -> Baseline:
    """Each test's and the session's median and noise over the baseline reports."""
    per_test: dict[str, list[float]] = {}
    sessions: list[float] = []
    for base in bases:
        figures = test_figures(base, metric)
        for nodeid, value in figures.items():
            per_test.setdefault(nodeid, []).append(value)
        sessions.append(session_figure(base, metric, figures))
    own = {k: log_spread(v) for k, v in per_test.items() if len(v) >= 3 and median(v) > 0}
    variances = [s * s for s in own.values() if s is not None]
    pooled = PRIOR_TEST_NOISE
    if len(variances) >= 5:
        # the median of the tests' variances, corrected for its bias at a few runs
        pooled = max(math.sqrt(median(variances) / _chi2_median_factor(len(bases) - 1)), MIN_NOISE)
    tests = {
        k: Stat(median(v), moderated(own.get(k), len(v) if k in own else 1, pooled), len(v))
        for k, v in per_test.items()
    }
    session_own = log_spread(sessions) if len(sessions) >= 3 else None
    session = Stat(median(sessions), moderated(session_own, len(sessions), PRIOR_SESSION_NOISE), len(sessions))
    return Baseline(metric, tests, session, len(bases), pooled)


def is_judged(base: float, threshold: float, floor: float) -> bool:
    """True when a threshold-sized change of ``base`` would pass the floor: the figure matters."""
    return base * max(threshold, 0.01) >= floor


def suspect(stat: Stat, new: float, threshold: float, floor: float) -> float | None:
    """A judged test's screening p-value (1.0 when its change is under the threshold or the floor).

    None for a test too small to be judged. The screening applies Benjamini-Hochberg at
    ``SCREEN_ALPHA`` over the judged tests of the process, twice as lenient as the verdict.
    """
    if not is_judged(stat.median, threshold, floor):
        return None
    if new - stat.median < floor or stat.median <= 0 or new / stat.median - 1 <= threshold:
        return 1.0
    return p_increase(stat.median, stat.runs, new, 1, stat.noise, stat.dof)


# ---------------------------------------------------------------------------- verdicts


_fmt = format_quantity  # a figure of the metric compared, in its unit


def _signed(value: float, metric: str) -> str:
    return ("+" if value >= 0 else "-") + _fmt(abs(value), metric)


class Delta(NamedTuple):
    """The change of one figure (the session, or one test) from its baseline, and the verdict."""

    subject: str
    base: float
    new: float
    metric: Metric
    threshold: float
    floor: float
    base_runs: int = 1
    noise: float = PRIOR_TEST_NOISE
    measurements: tuple[float, ...] = ()
    confirmed: bool = False
    p_value: float = 1.0
    verdict: str = "within noise"
    reason: str = ""

    @property
    def change(self) -> float:
        """New - base, in J or g."""
        return self.new - self.base

    @property
    def relative(self) -> float | None:
        """The change as a fraction of the baseline; None when the baseline is 0."""
        return self.change / self.base if self.base > 0 else None

    @property
    def significant(self) -> bool:
        """True for a regression or an improvement (threshold, floor and significance all passed)."""
        return self.verdict in ("regression", "improvement")

    @property
    def regressed(self) -> bool:
        """A significant increase."""
        return self.verdict == "regression"

    @property
    def improved(self) -> bool:
        """A significant decrease."""
        return self.verdict == "improvement"

    @property
    def band(self) -> tuple[float, float]:
        """The baseline's noise band (about two standard deviations either side of its median)."""
        factor = math.exp(2 * self.noise)
        return self.base / factor, self.base * factor

    def rel_text(self) -> str:
        """The relative change as text, such as +15.3%, or n/a when the baseline was 0."""
        rel = self.relative
        return "n/a" if rel is None else format_percent(rel)

    def text(self) -> str:
        """One line: the baseline with its band, the new figure, the change and why it is judged so."""
        low, high = self.band
        runs = f"median of {self.base_runs} runs" if self.base_runs > 1 else "1 run"
        new = _fmt(self.new, self.metric)
        return (
            f"{self.subject}: {_fmt(self.base, self.metric)} ({runs}, band {_fmt(low, self.metric)}.."
            f"{_fmt(high, self.metric)}) -> {new} ({_signed(self.change, self.metric)}, {self.rel_text()}): "
            f"{self.verdict}" + (f", {self.reason}" if self.reason else "")
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        low, high = self.band
        return {
            "subject": self.subject,
            "base": self.base,
            "new": self.new,
            "change": self.change,
            "relative": self.relative,
            "regressed": self.regressed,
            "improved": self.improved,
            "verdict": self.verdict,
            "reason": self.reason,
            "base_runs": self.base_runs,
            "band": [low, high],
            "noise": self.noise,
            "p_value": self.p_value,
            "confirmed": self.confirmed,
            "measurements": list(self.measurements),
        }


class Comparison(NamedTuple):
    """A new report against its baseline: session and per-test deltas, tests added and removed."""

    metric: Metric
    threshold: float
    fail_on_regression: bool
    base_run: Mapping[str, Any]
    session: Delta
    tests: tuple[Delta, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    notes: tuple[str, ...] = ()
    alpha: float = DEFAULT_ALPHA
    base_runs: int = 1
    judged: int = 0
    confirmations: Mapping[str, Any] = {}

    @property
    def regressions(self) -> tuple[Delta, ...]:
        """Tests with a significant increase, largest first."""
        return tuple(sorted((d for d in self.tests if d.regressed), key=lambda d: d.change, reverse=True))

    @property
    def improvements(self) -> tuple[Delta, ...]:
        """Tests with a significant decrease, largest first."""
        return tuple(sorted((d for d in self.tests if d.improved), key=lambda d: d.change))

    @property
    def within_noise(self) -> int:
        """How many judged tests changed within their noise (or below the threshold)."""
        return sum(1 for d in self.tests if d.verdict == "within noise")

    @property
    def regressed(self) -> bool:
        """True when the session or a test regressed (threshold, floor and significance)."""
        return self.session.regressed or bool(self.regressions)

    @property
    def fails(self) -> bool:
        """True when the regression should fail the run (a fail threshold was set)."""
        return self.fail_on_regression and self.regressed

    def lines(self, top: int = 10) -> list[str]:
        """Terminal lines: the baseline, the session, regressions, improvements and the counts."""
        base = self.base_run
        source = (
            f"the median of {self.base_runs} comparable runs"
            if self.base_runs > 1
            else f"{base.get('id') or 'the baseline'} ({base.get('started_at') or 'unknown date'}, commit "
            f"{str((base.get('git') or {}).get('commit') or 'unknown')[:12]})"
        )
        out = [
            f"compared with {source}; metric {self.metric}, threshold {self.threshold * 100:g}%, "
            f"significance {self.alpha:g} (Benjamini-Hochberg over {self.judged} judged tests, the session apart), "
            f"floors {_fmt(SESSION_FLOOR_J, 'energy')} session and {_fmt(TEST_FLOOR_J, 'energy')} per test",
            self.session.text(),
        ]
        for delta in self.regressions[:top]:
            out.append("regression " + delta.text())
        if len(self.regressions) > top:
            out.append(f"... and {len(self.regressions) - top} more regressions")
        for delta in self.improvements[:top]:
            out.append("improvement " + delta.text())
        out.append(
            f"{self.judged} test(s) judged: {len(self.regressions)} regressed, {len(self.improvements)} improved, "
            f"{self.within_noise} within noise; {len(self.tests) - self.judged} too small to judge"
        )
        conf = self.confirmations
        if conf.get("tests") or conf.get("skipped"):
            out.append(
                f"confirmations: {conf.get('tests')} test(s) measured again {conf.get('runs')} time(s) in "
                f"{float(conf.get('duration_s') or 0.0):.2f} s"
                + (f", {conf['skipped']} not measured again (time bound)" if conf.get("skipped") else "")
            )
        if self.added:
            out.append(f"{len(self.added)} test(s) new since the baseline")
        if self.removed:
            out.append(f"{len(self.removed)} test(s) of the baseline did not run")
        out += [f"note: {n}" for n in self.notes]
        if self.fails:
            out.append(
                f"carbon regression: {self.metric} rose by more than {self.threshold * 100:g}% above the floor, "
                f"beyond the noise"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report's ``comparison`` key."""
        return {
            "metric": self.metric,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "session_floor_j": SESSION_FLOOR_J,
            "test_floor_j": TEST_FLOOR_J,
            "fail_on_regression": self.fail_on_regression,
            "base_run": dict(self.base_run),
            "base_runs": self.base_runs,
            "session": self.session.to_dict(),
            "regressions": [d.to_dict() for d in self.regressions],
            "improvements": [d.to_dict() for d in self.improvements],
            "judged": self.judged,
            "within_noise": self.within_noise,
            "confirmations": dict(self.confirmations),
            "added": list(self.added),
            "removed": list(self.removed),
            "notes": list(self.notes),
            "regressed": self.regressed,
            "failed": self.fails,
        }


def machine_class(report: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two runs' figures comparable: CPU model, threads and the probes."""
    machine = report.get("machine") or {}
    probes = sorted(str(p.get("name")) for p in machine.get("probes", []) if isinstance(p, Mapping))
    return (machine.get("cpu_model"), machine.get("threads") or machine.get("logical_cpus"), tuple(probes))


def calibration_method(report: Mapping[str, Any]) -> str | None:
    """How the report's calibration was summarised (``calibrate.METHOD``); None without one.

    Reports written before the method was recorded took the median of the quickest of three parts.
    """
    cal = report.get("calibration")
    if not isinstance(cal, Mapping):
        return None
    return str(cal.get("method") or "quickest-median")


def comparable(base: Mapping[str, Any], new: Mapping[str, Any], *, metric: Metric = DEFAULT_METRIC) -> str | None:
    """None when ``base`` can be a baseline of ``new``; else why not (a note).

    In the ``reference`` metric, runs calibrated by different methods are not comparable either:
    the calibration divides every figure, and another method moves them all by a few percent.
    """
    if machine_class(base) != machine_class(new):
        return "another machine class (CPU model, threads or probes)"
    if metric == "reference":
        base_method, new_method = calibration_method(base), calibration_method(new)
        if base_method and new_method and base_method != new_method:
            return "another calibration method (an older pytest-carbon)"
    b_run, n_run = base.get("run") or {}, new.get("run") or {}
    if b_run.get("selection") and n_run.get("selection") and b_run.get("selection") != n_run.get("selection"):
        return "another test selection"
    if int(b_run.get("workers") or 0) != int(n_run.get("workers") or 0):
        return "another number of xdist workers"
    if not base.get("complete", True):
        return "a run cut short"
    return None


def _notes(bases: Sequence[Mapping[str, Any]], new: Mapping[str, Any], metric: Metric) -> list[str]:
    notes = []
    base = bases[-1] if bases else {}
    base_region = (base.get("region") or {}).get("code")
    new_region = (new.get("region") or {}).get("code")
    if metric == "co2" and base_region != new_region:
        notes.append(f"the region differs ({base_region} -> {new_region}): CO2e changes with the grid as well")
    why = [comparable(b, new, metric=metric) for b in bases]
    for reason in sorted({w for w in why if w}):
        notes.append(f"the baseline is from {reason}: part of the change may come from that, not the code")
    if not new.get("complete", True):
        notes.append("this run was cut short: its totals cover only the tests that ran")
    if metric == "reference":
        if calibration_of(new) is None:
            notes.append("this run has no calibration: CPU times are not corrected for the machine's speed")
        if any(calibration_of(b) is None for b in bases):
            notes.append("a baseline run has no calibration: its CPU times are not corrected for the machine's speed")
    return notes


def compare(
    base: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    new: Mapping[str, Any],
    *,
    threshold: float | None = None,
    metric: Metric = DEFAULT_METRIC,
    alpha: float = DEFAULT_ALPHA,
    confirmations: Mapping[str, Any] | None = None,
) -> Comparison:
    """Compare ``new`` with ``base`` (one report, or a list of comparable ones, oldest first).

    A ``threshold`` (a fraction) makes a regression fail the run; without one the comparison
    uses the default threshold and only reports.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    bases: list[Mapping[str, Any]] = [base] if isinstance(base, Mapping) else list(base)
    if not bases:
        raise ValueError("no baseline report to compare with")
    limit = DEFAULT_THRESHOLD if threshold is None else threshold
    scale = co2_g_per_j(new.get("region") or {}) if metric == "co2" else 1.0
    test_floor, session_floor = TEST_FLOOR_J * scale, SESSION_FLOOR_J * scale
    baseline = baseline_of(bases, metric)
    new_tests = test_figures(new, metric)
    repeats = repeat_figures(new, metric)

    # the tests: one family, Holm at alpha / 2
    measured: dict[str, tuple[float, tuple[float, ...], bool]] = {}
    p_up: dict[str, float] = {}
    p_down: dict[str, float] = {}
    for nodeid, value in new_tests.items():
        stat = baseline.tests.get(nodeid)
        if stat is None:
            continue
        reps = tuple(repeats.get(nodeid, ()))
        measured[nodeid] = (value, reps, bool(reps))
        if is_judged(stat.median, limit, test_floor):
            p = p_increase(stat.median, stat.runs, value, 1, stat.noise, stat.dof)
            p_up[nodeid], p_down[nodeid] = p, 1.0 - p
    up, down = benjamini_hochberg(p_up, alpha / 2), benjamini_hochberg(p_down, alpha / 2)
    cached = _cached_modules(baseline, repeats, limit)
    deltas = []
    for nodeid, (figure, values, confirmed) in measured.items():
        stat = baseline.tests[nodeid]
        judged = nodeid in p_up
        verdict, reason = _verdict(
            stat, figure, limit, test_floor, judged, nodeid in up, nodeid in down, p_up.get(nodeid, 1.0), alpha / 2
        )
        if verdict == "regression" and values:
            verdict, reason = _confirmation(nodeid, stat, values, limit, reason, confirmations or {}, cached)
        deltas.append(
            Delta(
                nodeid,
                stat.median,
                figure,
                metric,
                limit,
                test_floor,
                stat.runs,
                stat.noise,
                values,
                confirmed,
                p_up.get(nodeid, 1.0),
                verdict,
                reason,
            )
        )

    # the session, apart, at alpha / 2; only where the selections match
    session_stat = baseline.session or Stat(0.0, PRIOR_SESSION_NOISE, 1)
    new_session = session_figure(new, metric, new_tests)
    notes = _notes(bases, new, metric)
    same_tests = all(set(test_figures(b, metric)) == set(new_tests) for b in bases) or metric != "reference"
    if not same_tests:
        notes.append("the session is not judged: the baseline ran other tests")
    p_session = p_increase(session_stat.median, session_stat.runs, new_session, 1, session_stat.noise, session_stat.dof)
    verdict, reason = _verdict(
        session_stat,
        new_session,
        limit,
        session_floor,
        same_tests and session_stat.median > 0,
        p_session <= alpha / 2,
        1.0 - p_session <= alpha / 2,
        p_session,
        alpha / 2,
    )
    session = Delta(
        "session",
        session_stat.median,
        new_session,
        metric,
        limit,
        session_floor,
        session_stat.runs,
        session_stat.noise,
        (new_session,),
        False,
        p_session,
        verdict,
        reason,
    )
    base_tests = baseline.tests
    added = tuple(n for n in new_tests if n not in base_tests)
    removed = tuple(n for n in base_tests if n not in new_tests)
    run = bases[-1].get("run") or {}
    base_run = {"id": run.get("id"), "started_at": run.get("started_at"), "git": run.get("git") or {}}
    if len(bases) > 1:
        base_run["ids"] = [str((b.get("run") or {}).get("id")) for b in bases]
    return Comparison(
        metric,
        limit,
        threshold is not None,
        base_run,
        session,
        tuple(deltas),
        added,
        removed,
        tuple(notes),
        alpha,
        len(bases),
        len(p_up),
        dict(confirmations or {}),
    )


def module_of(nodeid: str) -> str:
    """The module part of a test's node id (``path/test_x.py`` of ``path/test_x.py::Class::test``)."""
    return nodeid.split("::", 1)[0]


def controls_by_module(ratios: Mapping[str, Sequence[float]], threshold: float) -> dict[str, Any]:
    """The confirmations' summary of the controls: second run over first, by module and in all.

    ``repeat_ratio`` is the median over every control, ``comparable`` whether it is at least
    ``1 / (1 + threshold)`` (``comparable_at``); ``modules`` keeps each module's own ratios, which
    decide for that module's suspects (``_confirmation``). On the xdist controller the workers'
    summaries are merged by module and this is worked out again.
    """
    modules = {str(m): [float(r) for r in rs] for m, rs in ratios.items() if rs}
    every = [r for rs in modules.values() for r in rs]
    if not every:
        return {}
    at = 1 / (1 + threshold)
    ratio = median(every)
    return {
        "controls": len(every),
        "repeat_ratio": ratio,
        "comparable": ratio >= at,
        "comparable_at": at,
        "modules": modules,
    }


def _far_below(stat: Stat, threshold: float) -> float:
    """Under this, a repeat is too far below the baseline to be the same code measured the same way."""
    return stat.median * math.exp(-4 * stat.noise) / (1 + threshold)


def _confirms(stat: Stat, again: float, threshold: float) -> bool:
    """True when a repeats' median confirms a regression: above the threshold and the baseline's band."""
    return again > stat.median * (1 + threshold) and again > stat.median * math.exp(2 * stat.noise)


def repeats_decide(stat: Stat, repeats: Sequence[float], threshold: float) -> bool:
    """True when more repeats would not change a suspect's verdict: they confirm it, or ran far below.

    The confirmations stop repeating such a test and give the time to the others.
    """
    if not repeats:
        return False
    again = median(repeats)
    return _confirms(stat, again, threshold) or again < _far_below(stat, threshold)


def _cached_modules(
    baseline: Baseline, repeats: Mapping[str, Sequence[float]], threshold: float
) -> dict[str, tuple[str, float]]:
    """Modules where a test's repeats ran far below its baseline: a second run there finds caches warm.

    Module -> (that test, its repeats' median over its baseline median).
    """
    out: dict[str, tuple[str, float]] = {}
    for nodeid, values in repeats.items():
        stat = baseline.tests.get(nodeid)
        if stat is None or not values or stat.median <= 0:
            continue
        again = median(values)
        if again < _far_below(stat, threshold):
            out.setdefault(module_of(nodeid), (nodeid, again / stat.median))
    return out


def _confirmation(
    nodeid: str,
    stat: Stat,
    repeats: Sequence[float],
    threshold: float,
    reason: str,
    summary: Mapping[str, Any],
    cached: Mapping[str, tuple[str, float]],
) -> tuple[str, str]:
    """The second stage: what the repeats after the run say of a test the main run found regressed.

    Repeats above the threshold and the baseline's band confirm it. Repeats may clear it only
    when a second run is comparable with a first in the test's module: the confirmations also run
    unchanged tests of the module once more (controls), and when those take less than
    1 / (1 + threshold) of their first run (code that caches its results runs faster the second
    time in a process), or another test of the module ran far below its baseline when repeated,
    no repeat can clear the verdict and the main run's stands, said so. Where the module has no
    control, the controls of the whole run decide. Where repeats are comparable, repeats far below
    the baseline (under its band by as much again, and the threshold) still leave it standing,
    and repeats in between clear it (the main run's figure was an accident of its moment).
    """
    again = median(repeats)
    times = f"{len(repeats)} repeat(s) after the run gave {_fmt(again, 'energy')}"
    if _confirms(stat, again, threshold):
        return "regression", f"{reason}; confirmed: {times}"
    module = module_of(nodeid)
    own = (summary.get("modules") or {}).get(module)
    own = [float(r) for r in own if isinstance(r, (int, float))] if isinstance(own, list) else []
    if own:
        ratio = math.fsum(own) / len(own)
        comparable = ratio >= 1 / (1 + threshold)
        why = f"a second run of {len(own)} unchanged test(s) of its module took {ratio * 100:.0f}% of the first"
    else:
        ratio_all = summary.get("repeat_ratio")
        comparable = summary.get("comparable") is True
        why = (
            f"a second run of {summary.get('controls')} unchanged test(s) took "
            f"{float(ratio_all) * 100:.0f}% of its first"
            if isinstance(ratio_all, (int, float))
            else "no unchanged test could be run again to check"
        )
    if not comparable:
        where = "in its module" if own else "in this run"
        return "regression", f"{reason}; {times}, but repeats are not comparable {where} ({why}): it stands"
    sibling = cached.get(module)
    if sibling is not None and sibling[0] != nodeid:
        return "regression", (
            f"{reason}; {times}, but repeats are not comparable in its module ({sibling[0]} ran at "
            f"{sibling[1] * 100:.0f}% of its baseline when repeated: caches warm): it stands"
        )
    if again < _far_below(stat, threshold):
        return "regression", f"{reason}; {times}, below the baseline's band: not comparable (warm caches?)"
    if len(repeats) < 2:
        return "regression", (
            f"{reason}; {times}, back in the baseline's band, but one repeat cannot tell a moment's noise in the "
            "run from caches the run warmed: it stands"
        )
    if max(repeats) > min(repeats) * (1 + threshold):
        return "regression", (
            f"{reason}; {times}, but they disagree by more than the threshold (caches warming, or set-up "
            "done again): it stands"
        )
    return "within noise", f"not confirmed: {times}, within the baseline's band and steady"


def _verdict(
    stat: Stat,
    new: float,
    threshold: float,
    floor: float,
    judged: bool,
    significant_up: bool,
    significant_down: bool,
    p_up: float,
    level: float,
) -> tuple[str, str]:
    """The verdict of one subject and why, in words."""
    if not judged:
        return "not judged", "too small for a threshold-sized change to pass the floor"
    change = new - stat.median
    rel = change / stat.median if stat.median > 0 else math.inf
    if abs(change) < floor:
        return "within noise", f"the change is under the floor of {_fmt(floor, 'energy')}"
    if abs(rel) <= threshold:
        return "within noise", f"under the {threshold * 100:g}% threshold"
    if change > 0:
        if significant_up:
            return "regression", f"significant (p={p_up:.2g}, level {level:g} after correction)"
        return "within noise", f"not significant given the noise (p={p_up:.2g})"
    if significant_down:
        return "improvement", f"significant (p={1.0 - p_up:.2g}, level {level:g} after correction)"
    return "within noise", f"not significant given the noise (p={1.0 - p_up:.2g})"
