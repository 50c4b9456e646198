"""The CI gate inside pytest: budgets and the baseline comparison.

Not a plugin: the session makes it (``CarbonSession.make_gate``) only when it can apply (a budget
or compare option, a test with a ``carbon_budget`` marker, a budget on a worker's report on the
xdist controller), and the end-of-run pipeline (``pipeline.EndOfRun.judge``) asks it for its
verdicts; the artefacts are written by the pipeline.

A test's budget is checked at the end of its call phase, on the figures of its set-up and call so
far (like pytest-memray's limits): a test over budget fails there with the reason. The report's
budget verdicts, written at the end of the session, use each test's full figures
(tear-down included). Under pytest-xdist each worker checks its own tests; the budget in force
rides on the call report to the controller, which gives the verdicts and the comparison.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_carbon.budget import (
    NO_REPEAT,
    Budget,
    BudgetResult,
    Mode,
    budget_band,
    budget_from,
    check,
    evaluate,
    how_obtained,
    marker_budget,
)
from pytest_carbon.marks import any_marked
from pytest_carbon.units import Quantity, QuantityError

if TYPE_CHECKING:
    from pytest_carbon.compare import Baseline, Comparison, Metric
    from pytest_carbon.confirm import Confirmer
    from pytest_carbon.session import CarbonSession

BUDGET_KEY = pytest.StashKey["Budget | None"]()


def _github_escape(text: str, *, prop: bool = False) -> str:
    """Escape a workflow-command value (GitHub's rules: %, CR, LF; and : , in properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


class CarbonGate:
    """Budgets and the comparison for one pytest process."""

    def __init__(self, config: pytest.Config, session: CarbonSession) -> None:
        self.config = config
        self.carbon = session
        settings = session.settings
        self.mode: Mode = settings.budget_mode
        self.session_budget = self._budget(settings.budget, "--carbon-budget")
        self.default_budget = self._budget(settings.test_budget, "carbon_test_budget")
        self.baseline_path: str = settings.compare or ""
        self.compare_mode = self.baseline_path
        #: the newest baseline run used (for the closing line), and the stored runs to choose from
        self.baseline: dict[str, Any] | None = None
        self.candidates: list[dict[str, Any]] = []
        self.excluded: list[str] = []
        self.metric: Metric = settings.compare_metric
        self.alpha = settings.compare_alpha
        self.budgets: dict[str, Budget] = {}
        self.result: BudgetResult | None = None
        self.comparison: Comparison | None = None
        #: what went wrong with the baseline (said in the terminal section)
        self.errors: list[str] = []
        self.confirmer: Confirmer | None = None
        self._wire: dict[str, Any] | None = None
        self._how: dict[str, str] = {}
        #: budgets already parsed, by (limit text, origin): most tests share one
        self._parsed: dict[tuple[str, str], Budget] = {}
        if session.role == "worker":
            self._wire = session.workerinput.get("carbon_gate")
        elif self.compare_mode in ("last", "history"):
            runs = 1 if self.compare_mode == "last" else settings.compare_runs
            self.candidates = self._stored_runs(max(4 * runs, 10))
        elif self.compare_mode:
            from pytest_carbon.model import load_report

            try:
                self.candidates = [load_report(self.baseline_path)]
            except ValueError as err:
                raise pytest.UsageError(f"pytest-carbon: --carbon-compare: {err}") from None

    def _stored_runs(self, limit: int) -> list[dict[str, Any]]:
        """The newest complete stored runs of this project and branch, newest first."""
        import os
        from pathlib import Path

        from pytest_carbon.runinfo import git_facts, project_name
        from pytest_carbon.store import NoHistory, StoreError, open_store

        settings = self.carbon.settings
        mode = self.compare_mode
        if settings.store is None:
            self.errors.append(f"--carbon-compare={mode} needs the history store, which is off: no comparison")
            return []
        root = Path(str(self.config.rootpath))
        project = project_name(root, settings.project)
        branch = settings.compare_branch or git_facts(root, os.environ)["branch"]
        try:
            store = open_store(settings.store or None, root, read_only=True)
            try:
                found = store.recent_reports(project, branch, limit)
            finally:
                store.close()
        except NoHistory:
            found = []  # no history yet: no stored run either
        except StoreError as err:
            self.errors.append(f"--carbon-compare={mode}: the history could not be read ({err}): no comparison")
            return []
        if not found:
            self.errors.append(
                f"--carbon-compare={mode}: no stored run of {project} on branch {branch or '(any)'} yet: no comparison"
            )
        return found

    def bases_for(self, new: dict[str, Any], *, check_selection: bool = True) -> list[dict[str, Any]]:
        """The baseline runs for ``new``, oldest first: comparable stored runs, or the report file given."""
        if not self.candidates:
            return []
        if self.compare_mode not in ("last", "history"):
            return list(self.candidates)
        from pytest_carbon.compare import comparable

        wanted = 1 if self.compare_mode == "last" else self.carbon.settings.compare_runs
        chosen: list[dict[str, Any]] = []
        excluded: dict[str, int] = {}
        for report in self.candidates:  # newest first
            if len(chosen) >= wanted:
                break
            probe = new if check_selection else {**new, "run": {**new.get("run", {}), "selection": None}}
            why = comparable(report, probe, metric=self.metric)
            if why is None:
                chosen.append(report)
            else:
                excluded[why] = excluded.get(why, 0) + 1
        self.excluded = [f"{count} stored run(s) left out of the baseline: {why}" for why, count in excluded.items()]
        if not chosen:
            return []
        newest = chosen[0]
        self.baseline = newest
        if self.compare_mode == "last":
            self.baseline_path = f"the last comparable stored run ({newest['run']['id'][:12]})"
        else:
            self.baseline_path = f"the median of the last {len(chosen)} comparable stored runs"
        return chosen[::-1]

    def _new_like(self) -> dict[str, Any]:
        """What is known of this run before its report: machine class, selection, workers."""
        from pytest_carbon.calibrate import METHOD
        from pytest_carbon.runinfo import machine_facts

        carbon = self.carbon
        return {
            "machine": machine_facts(carbon.probe_descriptions),
            "run": {"selection": carbon.selection, "workers": carbon.workers},
            "calibration": {"method": METHOD},
        }

    def worker_input(self, workers: int) -> dict[str, Any] | None:
        """The baseline and settings the xdist workers screen their tests with (made once)."""
        if self._wire is None and self.candidates:
            from pytest_carbon.compare import baseline_of

            new = self._new_like()
            new["run"]["workers"] = workers
            bases = self.bases_for(new, check_selection=False)
            if bases:
                self._wire = baseline_of(bases, self.metric).to_wire()
        return self._wire

    def _threshold(self) -> float:
        threshold = self.carbon.settings.compare_fail
        return 0.15 if threshold is None else threshold  # compare.DEFAULT_THRESHOLD, not imported here

    def _make_confirmer(self, session: pytest.Session) -> None:
        """Register the confirmations where this process runs tests and something can need them."""
        settings = self.carbon.settings
        times = settings.confirm
        if times <= 0 or self.carbon.role == "controller" or self.confirmer is not None:
            return
        baseline: Baseline | None = None
        if self._wire or self.candidates:
            from pytest_carbon.compare import Baseline, baseline_of

            if self._wire:
                baseline = Baseline.from_wire(self._wire)
            else:
                bases = self.bases_for(self._new_like())
                if bases:
                    baseline = baseline_of(bases, self.metric)
        budgets = self.default_budget is not None or self.config.pluginmanager.has_plugin("carbon-test-budgets")
        if baseline is None and not budgets:
            return
        from pytest_carbon.confirm import Confirmer

        self.confirmer = Confirmer(
            self.carbon,
            times=times,
            time_fraction=settings.confirm_time,
            baseline=baseline,
            threshold=self._threshold(),
        )
        self.config.pluginmanager.register(self.confirmer, "carbon-confirm")

    @staticmethod
    def _budget(value: Quantity | None, origin: str) -> Budget | None:
        return None if value is None else Budget(value, origin)

    # ------------------------------------------------------------------ per test

    def budget_of(self, item: pytest.Item) -> Budget | None:
        """The item's budget: its closest carbon_budget marker, else the default; QuantityError for a bad marker."""
        marker = item.get_closest_marker("carbon_budget")
        if marker is not None:
            return marker_budget(marker.args, marker.kwargs, item.nodeid)
        return self.default_budget

    def _how_for(self, kind: str) -> str:
        if kind not in self._how:
            region = self.carbon.region.to_dict() if self.carbon.region is not None else {}
            self._how[kind] = how_obtained(self.carbon.probe_descriptions, region, kind)
        return self._how[kind]

    def _test_budgets(self) -> None:
        if not self.config.pluginmanager.has_plugin("carbon-test-budgets"):
            self.config.pluginmanager.register(TestBudgets(self), "carbon-test-budgets")

    def collection_finished(self, session: pytest.Session) -> None:
        """Once the tests are collected: the per-test budget checks and the confirmations, where they can apply.

        An xdist controller runs no test itself: the session's report listener hands it the
        budgets on the workers' call reports (``budget_reported``), with no listener of its own.
        """
        # the per-test hooks cost every test a few pluggy calls: only where a budget can apply
        if self.default_budget is not None or any_marked(session.items, "carbon_budget"):
            self._test_budgets()
        self._make_confirmer(session)

    def budget_reported(self, nodeid: str, data: Any) -> None:
        """Note the budget a test's call report carries (``carbon_budget``: its limit and origin)."""
        if not isinstance(data, dict):
            return
        try:
            key = (str(data["limit"]), str(data["origin"]))
        except KeyError:
            return
        budget = self._parsed.get(key)
        if budget is None:
            try:
                budget = self._parsed[key] = budget_from(*key)
            except QuantityError:
                return
        self.budgets[nodeid] = budget

    # ------------------------------------------------------------------ end

    def judge(self, report: dict[str, Any]) -> None:
        """Add the budgets' verdicts and the comparison to the report (``pipeline.EndOfRun.judge``)."""
        if self.session_budget is not None or self.budgets or self.default_budget is not None:
            self.result = evaluate(
                report, session_budget=self.session_budget, test_budgets=self.budgets, mode=self.mode
            )
        bases = self.bases_for(report)
        if self.candidates and not bases:
            self.errors.append(
                f"--carbon-compare={self.compare_mode}: no comparable stored run "
                f"({'; '.join(self.excluded) or 'none'}): no comparison"
            )
        if bases:
            from pytest_carbon.compare import compare

            self.comparison = compare(
                bases,
                report,
                threshold=self.carbon.settings.compare_fail,
                metric=self.metric,
                alpha=self.alpha,
                confirmations=(report.get("session") or {}).get("confirmations"),
            )
            if self.excluded:
                self.comparison = self.comparison._replace(notes=(*self.comparison.notes, *self.excluded))
            report["comparison"] = self.comparison.to_dict()

    @property
    def judged(self) -> bool:
        """True when a budget or the comparison gave a verdict."""
        return self.result is not None or self.comparison is not None

    @property
    def fails(self) -> bool:
        """True when a budget or the comparison fails the run."""
        return (self.result is not None and self.result.fails) or (
            self.comparison is not None and self.comparison.fails
        )

    def comparison_lines(self) -> list[str]:
        """The comparison's lines of the terminal section."""
        return [] if self.comparison is None else list(self.comparison.lines(top=self.carbon.settings.top))

    def verdict_lines(self) -> list[str]:
        """The budgets' lines of the terminal section, and their GitHub annotations in a GitHub job."""
        if self.result is None:
            return []
        lines = list(self.result.lines())
        from pytest_carbon.reports import job_summary_path

        summary = job_summary_path(self.carbon.settings.github_summary)
        if os.environ.get("GITHUB_ACTIONS") == "true" or summary is not None:
            lines += self.annotations()
        return lines

    def annotations(self) -> list[str]:
        """GitHub Actions error annotations, one per budget exceeded in mode fail."""
        if self.result is None or self.mode != "fail":
            return []
        lines = []
        for verdict in self.result.exceeded_tests:
            where = ""
            if verdict.file:
                where = f" file={_github_escape(verdict.file, prop=True)}"
                if verdict.line:
                    where += f",line={verdict.line}"
            title = _github_escape("carbon budget exceeded", prop=True)
            message = _github_escape(f"{verdict.subject}: {verdict.text()}")
            lines.append(f"::error{where},title={title}::{message}" if where else f"::error title={title}::{message}")
        if self.result.session is not None and self.result.session.exceeded:
            lines.append(f"::error title=carbon budget exceeded::{_github_escape(self.result.session.text())}")
        return lines

    def final_line(self) -> str | None:
        """The closing line when budgets or the comparison fail the run."""
        reasons = []
        if self.result is not None and self.result.fails:
            count = len(self.result.exceeded_tests)
            if count:
                reasons.append(f"{count} test(s) over their carbon budget")
            if self.result.session is not None and self.result.session.exceeded:
                reasons.append(
                    f"session {self.result.session.measured_text()} over its budget of "
                    f"{self.result.session.budget.limit_text()}"
                )
        if self.comparison is not None and self.comparison.fails:
            reasons.append(
                f"{self.comparison.metric} regression over {self.comparison.threshold * 100:g}% against "
                f"{self.baseline_path}"
            )
        if not reasons:
            return None
        return "carbon gate FAILED: " + "; ".join(reasons)


class TestBudgets:
    """Per-test budget checks; registered only when some test can have a budget."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, gate: CarbonGate) -> None:
        self.gate = gate

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call" or self.gate.carbon.confirming:
            return report
        try:
            budget = self.gate.budget_of(item)
        except QuantityError as err:
            report.outcome = "failed"
            report.longrepr = str(err)
            return report
        if budget is None:
            return report
        # the budget in force travels with the report (to the controller under xdist)
        report.carbon_budget = {"limit": budget.limit.text, "origin": budget.origin}  # type: ignore[attr-defined]
        figures = self.gate.carbon.figures_now(item)
        verdict = check(item.nodeid, figures, budget, self.gate._how_for(budget.kind), self.gate.mode)
        confirmer = self.gate.confirmer
        if (
            verdict.exceeded
            and confirmer is not None
            and verdict.measured_si <= budget_band(budget.limit.value_si)
            and item.get_closest_marker(NO_REPEAT) is None
        ):
            # over the limit by less than the noise: measured again after the run before it fails
            confirmer.budget_suspects[item.nodeid] = budget
            report.sections.append(
                ("carbon budget", verdict.text() + "; within the noise of the limit: measured again after the run")
            )
        elif verdict.exceeded:
            if self.gate.mode == "fail" and report.passed and not hasattr(report, "wasxfail"):
                report.outcome = "failed"
                report.longrepr = verdict.text()
            else:
                report.sections.append(("carbon budget", verdict.text()))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "carbon_budget", None)
        if report.when == "call" and data is not None:
            self.gate.budget_reported(report.nodeid, data)
