"""Carbon budgets: per test and per session, checked against figures in the report model.

Pure logic: nothing here imports pytest. A budget is a quantity whose unit says what it limits
(an energy in J/Wh, or a CO2e mass in g). A verdict is a small frozen value that renders its own
one-line reason, measured and allowed figures side by side, and how the figure was obtained.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from pytest_carbon.units import Quantity, QuantityError, format_quantity, parse_quantity

Mode = Literal["fail", "warn"]
MODES: tuple[str, ...] = ("fail", "warn")

#: a test's run-to-run noise (log-space standard deviation) assumed for budgets: a test over its
#: limit by less than e^(2 x this) is measured again before it fails (``confirm.py``)
BUDGET_NOISE = 0.15
#: the marker of a test that must never run twice (no confirmation)
NO_REPEAT = "carbon_no_repeat"


def budget_band(limit_si: float, noise: float = BUDGET_NOISE) -> float:
    """The figure under which an exceeded budget is measured again before it fails (limit x e^(2 noise))."""
    return limit_si * math.exp(2 * noise)


class Budget(NamedTuple):
    """A limit on energy or CO2e, and where it was set ("marker", "carbon_test_budget", ...)."""

    limit: Quantity
    origin: str

    @property
    def kind(self) -> str:
        """Either energy or co2."""
        return self.limit.kind

    @property
    def key(self) -> str:
        """The report key the limit applies to: "energy_j" or "co2_g"."""
        return "energy_j" if self.limit.kind == "energy" else "co2_g"

    def measured(self, figures: Mapping[str, Any]) -> float:
        """The figure this budget limits, from a test entry or the report's session dict."""
        return float(figures.get(self.key) or 0.0)

    def limit_text(self) -> str:
        """The limit as the user wrote it, a CO2e mass marked as such: "5 mg CO2e", "1 kWh"."""
        text = self.limit.text or _fmt(self.limit.value_si, self.kind)
        if self.kind == "co2" and "co2" not in text.lower().replace("₂", "2"):
            text += " CO2e"
        return text


_fmt = format_quantity  # a figure of the budget's kind, in its unit


def budget_from(text: str, origin: str) -> Budget:
    """Parse a budget; raise QuantityError (a ConfigError) naming where the bad value came from."""
    try:
        return Budget(parse_quantity(text), origin)
    except QuantityError as err:
        raise QuantityError(f"{origin}: {err}") from None


def marker_budget(args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> Budget:
    """The budget of a ``carbon_budget("5 mg")`` or ``carbon_budget(limit="2 J")`` marker."""
    values = list(args) + ([kwargs["limit"]] if "limit" in kwargs else [])
    extra = set(kwargs) - {"limit"}
    if len(values) != 1 or extra or not isinstance(values[0], str):
        raise QuantityError(
            f'{where}: write the carbon_budget marker with one limit, for example @pytest.mark.carbon_budget("5 mg") '
            'or @pytest.mark.carbon_budget("2 J")'
        )
    try:
        return Budget(parse_quantity(values[0]), "carbon_budget marker")
    except QuantityError as err:
        raise QuantityError(f"{where}: carbon_budget marker: {err}") from None


def how_obtained(probes: Iterable[Mapping[str, Any]], region: Mapping[str, Any] | None, kind: str) -> str:
    """How a figure was obtained: the probes, and for CO2e the region and its intensity."""
    parts = []
    for probe in probes:
        name = str(probe.get("name"))
        if probe.get("measured"):
            parts.append(f"measured by {name}")
        else:
            inputs = probe.get("inputs") or {}
            detail = inputs.get("cpu_model") or inputs.get("model") or ""
            parts.append(f"estimated by {name}" + (f": {detail}" if detail else ""))
    text = ", ".join(parts) or "no energy probe"
    if kind == "co2":
        region = region or {}
        intensity = region.get("intensity_g_per_kwh")
        if region.get("known", True) and region.get("code"):
            text += f", region {region.get('code')} {intensity} g/kWh"
        else:
            text += f", region unknown: world average {intensity} g/kWh"
    return text


class Verdict(NamedTuple):
    """The outcome of one budget check (a test or the session)."""

    subject: str  # a test's node id, or "session"
    budget: Budget
    measured_si: float
    how: str
    mode: Mode = "fail"
    file: str | None = None
    line: int | None = None
    #: the repeated measurements the figure is the median of (a budget confirmed after the run)
    measurements: tuple[float, ...] = ()

    @property
    def exceeded(self) -> bool:
        """True when the measured figure is above the limit."""
        return self.measured_si > self.budget.limit.value_si

    @property
    def fails(self) -> bool:
        """True when this verdict should fail the test or the run (exceeded, mode fail)."""
        return self.exceeded and self.mode == "fail"

    @property
    def status(self) -> str:
        """Either ok or exceeded."""
        return "exceeded" if self.exceeded else "ok"

    def measured_text(self) -> str:
        """The measured figure in the budget's unit family."""
        return _fmt(self.measured_si, self.budget.kind)

    def text(self) -> str:
        """One line: what was measured, how, and the budget."""
        what = "session carbon budget" if self.subject == "session" else "carbon budget"
        verb = "exceeded" if self.exceeded else "met"
        measured = "measured"
        if self.measurements:
            low, high = min(self.measurements), max(self.measurements)
            measured = (
                f"median of {len(self.measurements)} measurements after the run "
                f"({_fmt(low, self.budget.kind)}..{_fmt(high, self.budget.kind)})"
            )
        return (
            f"{what} {verb}: {self.measured_text()} {measured} ({self.how}), budget {self.budget.limit_text()}"
            f" (from {self.budget.origin})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the ``budget`` key of a test entry or of the report."""
        return {
            "limit": self.budget.limit_text(),
            "kind": self.budget.kind,
            "limit_si": self.budget.limit.value_si,
            "measured_si": self.measured_si,
            "status": self.status,
            "mode": self.mode,
            "origin": self.budget.origin,
            "text": self.text(),
            "measurements": list(self.measurements),
        }


def check(
    subject: str,
    figures: Mapping[str, Any],
    budget: Budget,
    how: str,
    mode: Mode = "fail",
    *,
    file: str | None = None,
    line: int | None = None,
) -> Verdict:
    """Compare one set of figures (a test entry or the session dict) with its budget."""
    return Verdict(subject, budget, budget.measured(figures), how, mode, file, line)


def check_test(entry: Mapping[str, Any], budget: Budget, report: Mapping[str, Any], mode: Mode = "fail") -> Verdict:
    """Check one test entry of a report against its budget."""
    how = how_obtained(report.get("machine", {}).get("probes", []), report.get("region"), budget.kind)
    repeats = entry.get("confirmations")
    values: tuple[float, ...] = ()
    summary = (report.get("session") or {}).get("confirmations") or {}
    # a second run is used only where this run showed second runs comparable with first ones
    if isinstance(repeats, Mapping) and repeats.get("reason") == "budget" and summary.get("comparable") is not False:
        values = tuple(float(v) for v in repeats.get(budget.key) or ())
    if values:
        from pytest_carbon.calibrate import median

        nodeid = str(entry["nodeid"])
        return Verdict(nodeid, budget, median(values), how, mode, entry.get("file"), entry.get("line"), values)
    return check(str(entry["nodeid"]), entry, budget, how, mode, file=entry.get("file"), line=entry.get("line"))


def check_session(report: Mapping[str, Any], budget: Budget, mode: Mode = "fail") -> Verdict:
    """Check the session's totals against the session budget."""
    how = how_obtained(report.get("machine", {}).get("probes", []), report.get("region"), budget.kind)
    return check("session", report["session"], budget, how, mode)


class BudgetResult(NamedTuple):
    """Every verdict of a run."""

    mode: Mode
    session: Verdict | None
    tests: tuple[Verdict, ...]

    @property
    def exceeded_tests(self) -> tuple[Verdict, ...]:
        """The tests over their budget."""
        return tuple(v for v in self.tests if v.exceeded)

    @property
    def fails(self) -> bool:
        """True when the run should fail: a budget exceeded in mode fail."""
        return self.mode == "fail" and (
            bool(self.exceeded_tests) or (self.session is not None and self.session.exceeded)
        )

    def lines(self) -> list[str]:
        """Terminal lines: the session verdict, then each test over its budget."""
        out = []
        if self.session is not None:
            out.append(self.session.text())
        for verdict in self.exceeded_tests:
            out.append(f"{verdict.subject}: {verdict.text()}")
        if self.tests and not self.exceeded_tests:
            out.append(f"all {len(self.tests)} test budget(s) met")
        if self.mode == "warn" and (self.exceeded_tests or (self.session and self.session.exceeded)):
            out.append("carbon budget mode is warn: the run does not fail for budgets")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report's ``budget`` key."""
        return {
            "mode": self.mode,
            "session": self.session.to_dict() if self.session else None,
            "tests_with_budget": len(self.tests),
            "tests_exceeded": [v.subject for v in self.exceeded_tests],
            "failed": self.fails,
        }


def evaluate(
    report: dict[str, Any],
    *,
    session_budget: Budget | None,
    test_budgets: Mapping[str, Budget],
    mode: Mode = "fail",
) -> BudgetResult:
    """Check every budget and write the verdicts into the report (test entries' and the report's ``budget``)."""
    verdicts = []
    for entry in report.get("tests", []):
        budget = test_budgets.get(entry["nodeid"])
        if budget is None:
            entry.setdefault("budget", None)
            continue
        verdict = check_test(entry, budget, report, mode)
        entry["budget"] = verdict.to_dict()
        verdicts.append(verdict)
    session = check_session(report, session_budget, mode) if session_budget is not None else None
    result = BudgetResult(mode, session, tuple(verdicts))
    report["budget"] = result.to_dict()
    return result
