"""The end of a run, in one place: one object, made at configure time, run once at the session's end.

On a single process and on the xdist controller (a worker sends its records to the controller and
reports nothing itself), ``CarbonSession.pytest_sessionfinish`` calls ``EndOfRun.finish``, which
runs these steps in this order:

1. ``build``: the report model from the session's plain records (``report.build_report``);
2. ``judge``: the budgets and the baseline comparison (``gate.CarbonGate.judge``), where a budget
   or a baseline applies; the gate module is imported only then;
3. ``extend``: the ``pytest_carbon_report`` hook, where a conftest or a plugin may change the report;
4. ``render``: every artefact asked for, through the registry of renderers (``reports.write``):
   JSON, JUnit, Markdown, CSV, CSV of the tests, HTML, the GitHub job summary;
5. ``store``: the run in the history (``record_report``), then ``keep``: the JSON fallback file
   where no file would otherwise hold this run;
6. ``exit_status``: the run fails when a budget or the comparison fails it, or an artefact asked
   for could not be written.

Every step after the hook sees the report as the hook left it. Nothing here breaks a user's run:
an artefact that cannot be written or a history that cannot be used is said in the terminal
section (``terminal``), and fails the run only where the artefact was asked for.

The module is imported at configure time (the history's location is checked before the first
test), so it imports nothing heavy at its top.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

if TYPE_CHECKING:
    from pytest_carbon.session import CarbonSession

#: where the terminal section says each artefact's lines ("JSON report: ...", an error): the
#: carbon summary (0), the gate's part (1), the history's part (2); the lines keep their place
_PART = {"json": 0, "html": 2}


class Problem(NamedTuple):
    """Something at the end of the run that went wrong: where it belongs, and what to say."""

    part: int
    text: str


class EndOfRun:
    """The end-of-run pipeline of one session (the single process or the xdist controller)."""

    def __init__(self, carbon: CarbonSession) -> None:
        self.carbon = carbon
        self.config = carbon.config
        self.settings = carbon.settings
        self.root = Path(str(self.config.rootpath))
        self.report: dict[str, Any] | None = None
        #: the one list of what went wrong, in the order it happened
        self.problems: list[Problem] = []
        #: the artefacts written: (name in the registry, path)
        self.written: list[tuple[str, str]] = []
        #: the artefacts asked for that could not be written ("JUnit XML (out.xml)"): they fail the run
        self.failed: list[str] = []
        #: the file that holds this run's JSON report, once written (the one asked for, or a fallback)
        self.saved_at: str | None = None
        self.stored_in: str | None = None
        self.not_stored: str | None = None
        self._json_failure: str | None = None
        if self.settings.store is not None:
            self._check_store_location(self.settings.store)

    def _check_store_location(self, url: str) -> None:
        """Refuse before the first test a history that cannot be kept where asked (not its content)."""
        from pytest_carbon.store import StoreError, check_location, describe_url

        try:
            check_location(url, self.root)
        except StoreError as err:
            origin = self.settings.origin("carbon_store")
            shown = describe_url(url, self.root)  # never a password
            where = {"ini": f"carbon_store = {shown} (ini file)", "environment": f"PYTEST_CARBON_STORE={shown}"}.get(
                str(origin), f"--carbon-store={shown}"
            )
            raise pytest.UsageError(
                f"pytest-carbon: {where}: {err}; the history is postgresql://USER@HOST/DB, sqlite:///PATH, "
                "a file path, or off for no history"
            ) from None

    # ------------------------------------------------------------------ the steps

    def finish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode, totals: Any) -> dict[str, Any]:
        """Run every step, in order; return the report."""
        report = self.build(session, exitstatus, totals)
        self.judge(report)
        self.extend(report)
        self.render(report)
        self.store(report)
        self.keep(report)
        self.exit_status(session)
        return report

    def build(self, session: pytest.Session, exitstatus: int | pytest.ExitCode, totals: Any) -> dict[str, Any]:
        """Step 1: the report model, from the session's plain records."""
        self.report = self.carbon.build(session, exitstatus, totals)
        return self.report

    def judge(self, report: dict[str, Any]) -> None:
        """Step 2: the budgets' verdicts and the baseline comparison, into the report."""
        gate = self.carbon.gate
        if gate is not None:
            gate.judge(report)
            # what went wrong with the baseline (at start-up or now) joins the run's one list
            self.problems += [Problem(1, error) for error in gate.errors]
            gate.errors.clear()

    def extend(self, report: dict[str, Any]) -> None:
        """Step 3: the ``pytest_carbon_report`` hook (a conftest may add to the report)."""
        if "-" in self.settings.artefacts.values():  # an artefact written to standard output
            self._end_terminal_line()
        self.config.hook.pytest_carbon_report(config=self.config, report=report)

    def render(self, report: dict[str, Any]) -> None:
        """Step 4: every artefact asked for (``Settings.artefacts``, then the job summary), through the registry."""
        from pytest_carbon.reports import job_summary_path, what, write

        settings = self.settings
        # the job's summary file is looked up now: a test may set it during the session
        paths = {**settings.artefacts, "job_summary": job_summary_path(settings.github_summary)}
        for name, path in paths.items():
            if not path:
                continue
            top = max(settings.top, 20) if name == "html" else settings.top
            try:
                write(name, report, path, top=top)
            except OSError as err:
                text = f"could not write the {what(name)} to {path}: {err.strerror or err}"
                if name == "json":
                    self._json_failure = text  # completed by ``keep``, which may save it elsewhere
                else:
                    self.problems.append(Problem(_PART.get(name, 1), text))
                if name != "job_summary":  # the job summary is not asked for: its failure does not fail the run
                    self.failed.append(f"{what(name)} ({path})")
                continue
            self.written.append((name, path))
            if name == "json" and path != "-":
                self.saved_at = path

    def store(self, report: dict[str, Any]) -> None:
        """Step 5: the run in the history (where one is kept)."""
        url = self.settings.store
        if url is None:
            return
        self.stored_in, self.not_stored = record_report(
            report,
            url,
            self.root,
            project=self.settings.project,
            organisation=self.settings.organisation,
        )

    def keep(self, report: dict[str, Any]) -> None:
        """Step 5 (end): a temporary JSON file where no file would otherwise hold this run.

        Written only when the asked-for JSON could not be written, or the history did not take the
        run and no JSON file was asked for.
        """
        failure = self._json_failure
        if self.saved_at is not None or not (failure or self.not_stored):
            return
        import tempfile

        from pytest_carbon.reports import write

        run_id = str(report.get("run", {}).get("id") or int(self.carbon.started_at))
        fallback = os.path.join(tempfile.gettempdir(), f"pytest-carbon-report-{run_id[:16]}.json")
        try:
            write("json", report, fallback)
            self.saved_at = fallback
            if failure:
                failure += f"; the report of this run is saved in {fallback} instead"
        except OSError as err:
            failure = (failure + "; " if failure else "") + (
                f"the report could not be saved in {fallback} either ({err.strerror or err}): this run's report is lost"
            )
        if failure:
            self.problems.append(Problem(_PART["json"], failure))

    def exit_status(self, session: pytest.Session) -> None:
        """Step 6: fail a run that passed when the gate fails it or an artefact asked for is missing."""
        gate = self.carbon.gate
        fails = gate is not None and gate.fails
        if (fails or self.failed) and int(session.exitstatus) == int(pytest.ExitCode.OK):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _end_terminal_line(self) -> None:
        """End pytest's progress line, so that an artefact written to standard output starts a line of its own."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        writer = getattr(reporter, "_tw", None)
        if writer is None:
            return
        if getattr(writer, "width_of_current_line", 0):
            writer.line()
        writer.flush()

    # ------------------------------------------------------------------ the terminal section

    def errors(self, part: int) -> list[str]:
        """The errors said in one part of the terminal section."""
        return [p.text for p in self.problems if p.part == part]

    def terminal(self, terminalreporter: Any) -> None:
        """The one carbon section of the terminal summary.

        In this order: the carbon summary and the JSON report; the comparison, the other
        artefacts, the budgets' verdicts and the gate's closing line; the HTML page and the
        history; the closing line when an artefact asked for is missing.
        """
        quiet = self.config.get_verbosity() < 0
        self._summary_part(terminalreporter, quiet)
        self._gate_part(terminalreporter)
        for line in self._history_lines():
            if quiet and not line.startswith(("error:", "history: this run was NOT", "HTML page:")):
                continue  # -q: the carbon summary's line, the artefacts written, and what went wrong
            terminalreporter.write_line(line)
        if self.failed:
            terminalreporter.write_line("carbon: FAILED: not written: " + ", ".join(self.failed), red=True, bold=True)

    def _summary_part(self, terminalreporter: Any, quiet: bool) -> None:
        if self.report is None:
            return
        from pytest_carbon.summary import summary_lines

        settings = self.settings
        lines = summary_lines(
            self.report,
            verbosity=self.config.get_verbosity(),
            top=settings.top,
            sort=settings.sort,
            group_by=settings.group_by,
        )
        lines += [f"error: {e}" for e in self.errors(0)]
        json_written = self.saved_at is not None and self.saved_at == settings.json
        if quiet:
            for line in lines:
                terminalreporter.write_line(line)
            if json_written and self.saved_at != "-":  # -q: one line, then every artefact written
                terminalreporter.write_line(f"JSON report: {self.saved_at}")
            return
        terminalreporter.write_sep("=", "carbon")
        for line in lines:
            terminalreporter.write_line(line)
        if json_written:
            terminalreporter.write_line(f"JSON report: {self.saved_at}")

    def _gate_part(self, terminalreporter: Any) -> None:
        gate = self.carbon.gate
        shown = [path for name, path in self.written if _PART.get(name, 1) == 1]
        # a gate's own errors are left only where the pipeline did not run (no session's end)
        errors = (list(gate.errors) if gate is not None else []) + self.errors(1)
        if not shown and not errors and (gate is None or not gate.judged):
            return
        from pytest_carbon.summary import printable

        def write(line: str, **markup: bool) -> None:  # node ids in the lines: one terminal line each
            terminalreporter.write_line(printable(line), **markup)

        if gate is not None:
            for line in gate.comparison_lines():
                write(line)
        for path in shown:
            if path != os.environ.get("GITHUB_STEP_SUMMARY"):
                write(f"carbon report: {'standard output' if path == '-' else path}")
        for error in errors:
            write(f"error: {error}")
        if gate is not None:
            for line in gate.verdict_lines():
                write(line)
            final = gate.final_line()
            if final:
                write(final, red=True, bold=True)

    def _history_lines(self) -> list[str]:
        lines = [f"HTML page: {path}" for name, path in self.written if name == "html"]
        lines += [f"error: {e}" for e in self.errors(2)]
        if self.stored_in:
            lines.append(f"history: run stored in {self.stored_in}")
        if self.not_stored:
            later = (
                f"`pytest-carbon store push {self.saved_at}` can store it later"
                if self.saved_at
                else "its report could not be saved either, so it cannot be stored later"
            )
            lines.append(f"history: this run was NOT stored: {self.not_stored}. {later}")
        return lines


def record_report(
    report: dict[str, Any],
    url: str,
    root: Path,
    project: str | None = None,
    organisation: str | None = None,
) -> tuple[str | None, str | None]:
    """Record ``report``, built by this session, in the history at ``url``: (where, None) or (None, why not)."""
    from pytest_carbon.store import StoreError, open_store

    try:
        store = open_store(url or None, root)
    except StoreError as err:
        return None, str(err)
    except Exception as err:  # never a traceback at the end of a run for the history: say it, go on
        return None, f"the history could not be opened: {type(err).__name__}: {err}"
    try:
        store.record(report, project=project, organisation=organisation, built_here=True)
        return store.where, None
    except StoreError as err:
        return None, str(err)
    except Exception as err:
        return None, f"the run could not be written: {type(err).__name__}: {err}"
    finally:
        store.close()
