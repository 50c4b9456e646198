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

    session = CarbonSession(config, settings)  # it decides this process's xdist role, once
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "carbon-session")
    # the role's objects, the gate where an option needs it and, where this process reports, the
    # end-of-run pipeline (``pipeline.EndOfRun``)
    session.take_role()
