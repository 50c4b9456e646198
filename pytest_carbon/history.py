"""Plugin part that records each run in the history store and writes the single-run HTML page.

Registered by ``plugin.pytest_configure`` when ``--carbon`` is on. Only the process that builds
the final report writes (a serial run, or the xdist controller; never a worker). A store that
cannot be used never changes the run's outcome: the summary says why the run was not stored and
how to store it later.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_carbon.settings import Settings


class CarbonHistory:
    """Records the final report in the history and writes ``--carbon-html``."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.root = Path(str(config.rootpath))
        self.stored_in: str | None = None
        self.not_stored: str | None = None
        self.html_written: str | None = None
        self.html_error: str | None = None
        url = self.store_url
        if url and not hasattr(config, "workerinput"):
            self._check_location(url)

    def _check_location(self, url: str) -> None:
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

    def _session_output_failed(self, what: str, path: str) -> None:
        from pytest_carbon.session import SESSION_KEY

        session = self.config.stash.get(SESSION_KEY, None)
        if session is not None:
            session.output_failed(what, path)

    @property
    def store_url(self) -> str | None:
        """The history URL, or None when the store is turned off ("off")."""
        return self.settings.store

    @pytest.hookimpl(trylast=True)
    def pytest_carbon_report(self, config: pytest.Config, report: dict[str, Any]) -> None:
        """Write the HTML page and record the run, once every other plugin has added to the report."""
        if hasattr(config, "workerinput"):
            return
        html_path = self.settings.html
        if html_path:
            from pytest_carbon.reports import write

            try:
                write("html", report, html_path, top=max(self.settings.top, 20))
                self.html_written = str(html_path)
            except OSError as err:
                self.html_error = f"could not write the HTML page to {html_path}: {err.strerror or err}"
                self._session_output_failed("HTML page", str(html_path))
        url = self.store_url
        if url is None:
            return
        self.stored_in, self.not_stored = record_report(
            report,
            url,
            self.root,
            project=self.settings.project,
            organisation=self.settings.organisation,
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, None, None]:
        """Say where the run was stored, or why not and how to store it later (after the carbon summary)."""
        result = yield
        quiet = self.config.get_verbosity() < 0
        for line in self.summary_lines():
            if quiet and not line.startswith(("error:", "history: this run was NOT", "HTML page:")):
                continue  # -q: the carbon summary's line, the artefacts written, and what went wrong
            terminalreporter.write_line(line)
        from pytest_carbon.session import SESSION_KEY

        session = self.config.stash.get(SESSION_KEY, None)
        final = session.failed_outputs_line() if session is not None else None
        if final:
            terminalreporter.write_line(final, red=True, bold=True)
        return result

    def summary_lines(self) -> list[str]:
        """The history's lines of the terminal summary."""
        lines = []
        if self.html_written:
            lines.append(f"HTML page: {self.html_written}")
        if self.html_error:
            lines.append(f"error: {self.html_error}")
        if self.stored_in:
            lines.append(f"history: run stored in {self.stored_in}")
        if self.not_stored:
            from pytest_carbon.session import SESSION_KEY

            session = self.config.stash.get(SESSION_KEY, None)
            saved = session.report_saved_at if session is not None else None
            later = (
                f"`pytest-carbon store push {saved}` can store it later"
                if saved
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
