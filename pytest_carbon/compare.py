"""Regression check of a report against a baseline report (two plain dicts of the JSON's shape).

Energy is compared by default, not CO2e: the grid intensity may differ between two runs (another
region, a live figure, a newer table), and that is not a change in the code. ``metric="co2"``
compares CO2e when that is what matters.

Noise floor. A change counts only when it is both

- larger than the relative threshold (the ``--carbon-compare-fail`` value, 15 % by default), and
- larger in absolute terms than a floor: ``SESSION_FLOOR_J`` (0.5 J) for the session and
  ``TEST_FLOOR_J`` (0.05 J) for a test (for CO2e, the same floors converted with the new report's
  intensity and PUE).

The test floor keeps the jitter of millisecond tests (a few hundredths of a joule at CI-runner
power, where scheduling alone moves timings by tens of per cent) out of the verdict; the session
floor does the same for tiny suites. The gate fails when the session or any test regresses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from pytest_carbon.units import co2_g_per_j, format_co2, format_energy, format_percent

Metric = Literal["energy", "co2"]

DEFAULT_THRESHOLD = 0.15
SESSION_FLOOR_J = 0.5
TEST_FLOOR_J = 0.05


def _fmt(value: float, metric: str) -> str:
    if metric == "energy":
        return format_energy(value)
    return format_co2(value) + " CO2e"


def _signed(value: float, metric: str) -> str:
    return ("+" if value >= 0 else "-") + _fmt(abs(value), metric)


class Delta(NamedTuple):
    """The change of one figure (the session, or one test) from the baseline."""

    subject: str
    base: float
    new: float
    metric: Metric
    threshold: float
    floor: float

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
        """True when the change is above both the floor and the threshold."""
        if abs(self.change) < self.floor:
            return False
        rel = self.relative
        return rel is None or abs(rel) > self.threshold

    @property
    def regressed(self) -> bool:
        """A significant increase."""
        return self.significant and self.change > 0

    @property
    def improved(self) -> bool:
        """A significant decrease."""
        return self.significant and self.change < 0

    def rel_text(self) -> str:
        """The relative change as text, such as +15.3%, or n/a when the baseline was 0."""
        rel = self.relative
        return "n/a" if rel is None else format_percent(rel)

    def text(self) -> str:
        """One line: base -> new (change, per cent) and the verdict."""
        verdict = "regression" if self.regressed else "improvement" if self.improved else "within noise"
        return (
            f"{self.subject}: {_fmt(self.base, self.metric)} -> {_fmt(self.new, self.metric)} "
            f"({_signed(self.change, self.metric)}, {self.rel_text()}): {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "subject": self.subject,
            "base": self.base,
            "new": self.new,
            "change": self.change,
            "relative": self.relative,
            "regressed": self.regressed,
            "improved": self.improved,
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

    @property
    def regressions(self) -> tuple[Delta, ...]:
        """Tests with a significant increase, largest first."""
        return tuple(sorted((d for d in self.tests if d.regressed), key=lambda d: d.change, reverse=True))

    @property
    def improvements(self) -> tuple[Delta, ...]:
        """Tests with a significant decrease, largest first."""
        return tuple(sorted((d for d in self.tests if d.improved), key=lambda d: d.change))

    @property
    def regressed(self) -> bool:
        """True when the session or a test regressed beyond the threshold and the floor."""
        return self.session.regressed or bool(self.regressions)

    @property
    def fails(self) -> bool:
        """True when the regression should fail the run (a fail threshold was set)."""
        return self.fail_on_regression and self.regressed

    def lines(self, top: int = 10) -> list[str]:
        """Terminal lines: the session delta, regressions, improvements, added and removed tests."""
        base = self.base_run
        out = [
            f"compared with {base.get('id') or 'the baseline'} ({base.get('started_at') or 'unknown date'}, "
            f"commit {str((base.get('git') or {}).get('commit') or 'unknown')[:12]}); metric {self.metric}, "
            f"threshold {self.threshold * 100:g}%, floors {format_energy(SESSION_FLOOR_J)} session and "
            f"{format_energy(TEST_FLOOR_J)} per test",
            self.session.text(),
        ]
        for delta in self.regressions[:top]:
            out.append("regression " + delta.text())
        if len(self.regressions) > top:
            out.append(f"... and {len(self.regressions) - top} more regressions")
        for delta in self.improvements[:top]:
            out.append("improvement " + delta.text())
        if self.added:
            out.append(f"{len(self.added)} test(s) new since the baseline")
        if self.removed:
            out.append(f"{len(self.removed)} test(s) of the baseline did not run")
        out += [f"note: {n}" for n in self.notes]
        if self.fails:
            out.append(f"carbon regression: {self.metric} rose by more than {self.threshold * 100:g}% above the floor")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report's ``comparison`` key."""
        return {
            "metric": self.metric,
            "threshold": self.threshold,
            "session_floor_j": SESSION_FLOOR_J,
            "test_floor_j": TEST_FLOOR_J,
            "fail_on_regression": self.fail_on_regression,
            "base_run": dict(self.base_run),
            "session": self.session.to_dict(),
            "regressions": [d.to_dict() for d in self.regressions],
            "improvements": [d.to_dict() for d in self.improvements],
            "added": list(self.added),
            "removed": list(self.removed),
            "notes": list(self.notes),
            "regressed": self.regressed,
            "failed": self.fails,
        }


def _per_test(report: Mapping[str, Any], key: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for entry in report.get("tests", []):
        nodeid = str(entry["nodeid"])
        # a rerun test appears more than once: its energy is the sum
        totals[nodeid] = totals.get(nodeid, 0.0) + float(entry.get(key) or 0.0)
    return totals


def _notes(base: Mapping[str, Any], new: Mapping[str, Any], metric: str) -> list[str]:
    notes = []
    base_region = (base.get("region") or {}).get("code")
    new_region = (new.get("region") or {}).get("code")
    if metric == "co2" and base_region != new_region:
        notes.append(f"the region differs ({base_region} -> {new_region}): CO2e changes with the grid as well")

    def probes(report: Mapping[str, Any]) -> list[str]:
        return sorted(str(p.get("name")) for p in (report.get("machine") or {}).get("probes", []))

    if probes(base) != probes(new):
        notes.append(
            f"the energy sources differ ({', '.join(probes(base)) or 'none'} -> {', '.join(probes(new)) or 'none'}): "
            "part of the change may come from the method, not the code"
        )
    if (base.get("machine") or {}).get("cpu_model") != (new.get("machine") or {}).get("cpu_model"):
        notes.append("the two runs were on different CPU models")
    if not base.get("complete", True) or not new.get("complete", True):
        notes.append("one of the runs was cut short: its totals cover only the tests that ran")
    return notes


def compare(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    threshold: float | None = None,
    metric: Metric = "energy",
) -> Comparison:
    """Compare ``new`` with ``base``; a ``threshold`` (a fraction) makes a regression fail the run."""
    if metric not in ("energy", "co2"):
        raise ValueError(f"unknown metric {metric!r}: use energy or co2")
    limit = DEFAULT_THRESHOLD if threshold is None else threshold
    key = "energy_j" if metric == "energy" else "co2_g"
    scale = 1.0 if metric == "energy" else co2_g_per_j(new.get("region") or {})
    session = Delta(
        "session",
        float(base["session"].get(key) or 0.0),
        float(new["session"].get(key) or 0.0),
        metric,
        limit,
        SESSION_FLOOR_J * scale,
    )
    base_tests = _per_test(base, key)
    new_tests = _per_test(new, key)
    deltas = tuple(
        Delta(nodeid, base_tests[nodeid], value, metric, limit, TEST_FLOOR_J * scale)
        for nodeid, value in new_tests.items()
        if nodeid in base_tests
    )
    added = tuple(n for n in new_tests if n not in base_tests)
    removed = tuple(n for n in base_tests if n not in new_tests)
    run = base.get("run") or {}
    base_run = {"id": run.get("id"), "started_at": run.get("started_at"), "git": run.get("git") or {}}
    return Comparison(
        metric,
        limit,
        threshold is not None,
        base_run,
        session,
        deltas,
        added,
        removed,
        tuple(_notes(base, new, metric)),
    )
