"""The pytest entry point: options, ini twins, hooks; thin wiring of the other modules.

With ``--carbon`` off (the default) this module registers its options and returns: no thread,
no probe, no heavy import.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_carbon.config import ENABLE, OPTIONS, ConfigError, resolve


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


def resolve_options(config: pytest.Config) -> tuple[bool, dict[str, Any], dict[str, str]]:
    """Resolve the switch and every option; raise ConfigError on the first bad value."""
    environ = os.environ
    enabled = resolve(ENABLE, config.getoption("carbon"), _ini(config, "carbon"), environ)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if not enabled.value:
        return False, values, origins
    for option in OPTIONS:
        resolved = resolve(option, config.getoption(option.name), _ini(config, option.name), environ)
        values[option.name] = resolved.value
        origins[option.name] = resolved.origin
    return True, values, origins


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        'carbon_budget(limit): fail the test when its energy ("2 J") or CO2e ("5 mg") exceeds limit',
    )
    try:
        enabled, values, origins = resolve_options(config)
    except ConfigError as err:
        raise pytest.UsageError(str(err)) from None
    if not enabled:
        return
    from pytest_carbon.session import SESSION_KEY, CarbonSession

    session = CarbonSession(config, values, origins)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "carbon-session")
    from pytest_carbon.gate import CarbonGate

    config.pluginmanager.register(CarbonGate(config, session), "carbon-gate")
    from pytest_carbon.history import CarbonHistory

    config.pluginmanager.register(CarbonHistory(config, values), "carbon-history")
