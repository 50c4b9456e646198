"""The pytest entry point: options, ini twins, hooks; thin wiring of the other modules.

With ``--carbon`` off (the default) this module registers its options and returns: no thread,
no probe, no heavy import.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from pytest_carbon import config as carbon_config
from pytest_carbon.config import ENABLE, OPTIONS, resolve, resolve_settings

if TYPE_CHECKING:
    from pytest_carbon.gate import CarbonGate
    from pytest_carbon.session import CarbonSession
    from pytest_carbon.settings import Settings


@pytest.fixture
def carbon(request: pytest.FixtureRequest) -> Any:
    """Meter a block of a test: ``with carbon.meter("name") as m: ...``, then ``m.energy_j``, ``m.co2_g``.

    The block is charged from the session's own meter (its probes, model and region), and its
    figures are added to the test's entry in the report under ``blocks``. Without ``--carbon`` the
    block is metered on its own (``pytest_carbon.meter``).
    """
    from pytest_carbon.block import CarbonFixture
    from pytest_carbon.session import SESSION_KEY

    return CarbonFixture(request.config.stash.get(SESSION_KEY, None), request.node)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_carbon import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("carbon", "energy and CO2e of tests (pytest-carbon)")
    group.addoption(
        "--carbon",
        action="store_const",
        const=True,
        default=None,
        dest="carbon",
        help="meter energy and CO2e of every test (ini: carbon = true, env: PYTEST_CARBON=1)",
    )
    parser.addini("carbon", "meter energy and CO2e of every test (true/false)", default="")
    for option in OPTIONS:
        group.addoption(
            option.flag,
            dest=option.name,
            default=None,
            metavar=option.metavar,
            # argparse formats help with %: a literal per cent sign must be doubled
            help=f"{option.help} (ini: {option.name}, env: {option.env})".replace("%", "%%"),
        )
        parser.addini(option.name, option.help, default="")


def _ini(config: pytest.Config, name: str) -> str | None:
    try:
        value = config.getini(name)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def resolve_options(config: pytest.Config) -> Settings | None:
    """The settings, or None when ``--carbon`` is off; raise ConfigError on the first bad value.

    An xdist worker resolves them the same way: it runs with the controller's command line, ini
    file and environment.
    """
    environ = os.environ
    if not resolve(ENABLE, config.getoption("carbon"), _ini(config, "carbon"), environ).value:
        return None
    return resolve_settings(config.getoption, lambda name: _ini(config, name), environ)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        'carbon_budget(limit): fail the test when its energy ("2 J") or CO2e ("5 mg") exceeds limit',
    )
    config.addinivalue_line(
        "markers",
        "carbon_no_repeat: never run this test again to confirm a regression or a budget verdict",
    )
    try:
        settings = resolve_options(config)
    except carbon_config.ConfigError as err:  # looked up only when something is raised: errors.py is loaded lazily
        raise pytest.UsageError(str(err)) from None
    if settings is None:
        return
    from pytest_carbon.session import SESSION_KEY, CarbonSession

    session = CarbonSession(config, settings)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "carbon-session")
    config.pluginmanager.register(GateOnDemand(config, session), "carbon-gate")
    from pytest_carbon.history import CarbonHistory

    config.pluginmanager.register(CarbonHistory(config, settings), "carbon-history")


def _needs_gate(settings: Settings) -> bool:
    """True when an option needs the gate from the start: a budget, the baseline (checked at start-up), an artefact."""
    wanted = (settings.budget, settings.test_budget, settings.compare, settings.junit, settings.markdown)
    return any(value is not None for value in (*wanted, settings.csv, settings.csv_tests))


def _github_summary_wanted(settings: Settings) -> bool:
    from pytest_carbon.reports import job_summary_path

    return job_summary_path(settings.github_summary) is not None


class GateOnDemand:
    """Holds the gate's place among the plugins, and makes the gate only when it can apply.

    The gate (budgets, the baseline comparison, the CI artefacts) is made at once when an option
    needs it; otherwise when a collected test carries a ``carbon_budget`` marker, when this process
    is the xdist controller (it reads the budgets on the workers' reports), or when a job summary
    is to be written. A plain metered run never imports it. The hooks stay on this object, so the
    gate's hooks run where they always ran relative to the other plugins.
    """

    def __init__(self, config: pytest.Config, session: CarbonSession) -> None:
        self.config = config
        self.carbon = session
        self.gate: CarbonGate | None = None
        self.pytest_session: pytest.Session | None = None
        if _needs_gate(session.settings) or _github_summary_wanted(session.settings):
            self._make()

    def _make(self) -> CarbonGate:
        if self.gate is None:
            from pytest_carbon.gate import CarbonGate

            self.gate = CarbonGate(self.config, self.carbon)
            self.gate.pytest_session = self.pytest_session
        return self.gate

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.pytest_session = session
        if self.gate is None and self.config.pluginmanager.has_plugin("dsession"):
            self._make()
        if self.gate is not None:
            self.gate.pytest_sessionstart(session)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from pytest_carbon.marks import any_marked

        if self.gate is None and any_marked(session.items, "carbon_budget"):
            self._make()
        if self.gate is not None:
            self.gate.pytest_collection_finish(session)

    def worker_input(self, workers: int) -> dict[str, Any] | None:
        """What the xdist workers need to screen their tests (None when nothing is compared)."""
        if self.gate is None and self.carbon.settings.compare is None:
            return None
        return self._make().worker_input(workers)

    def pytest_carbon_report(self, config: pytest.Config, report: dict[str, Any]) -> None:
        if self.gate is None and _github_summary_wanted(self.carbon.settings):
            self._make()
        if self.gate is not None:
            self.gate.pytest_carbon_report(config, report)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.gate is not None:
            self.gate.pytest_terminal_summary(terminalreporter)
