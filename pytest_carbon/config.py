"""Options of the plugin: one table, one resolver.

Every option has a command-line flag, an ini/pyproject twin and an environment variable.
Precedence, highest first:

1. the command line (``--carbon-scope=machine``);
2. the ini file or ``[tool.pytest.ini_options]`` (``carbon_scope = machine``);
3. the environment (``PYTEST_CARBON_SCOPE=machine``);
4. the default.

Values are parsed and checked here, before the first test runs; a bad value raises
``ConfigError`` naming the option and what it accepts, which the plugin turns into a pytest
usage error. ``resolve_settings`` gathers them into one typed ``settings.Settings``: every value
is interpreted here, once, and read from that object everywhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_carbon.errors import ConfigError as ConfigError
    from pytest_carbon.settings import Settings


def __getattr__(name: str) -> Any:
    # ConfigError lives in errors.py, imported where a value is refused: a run without --carbon
    # (which imports this module at every start) never loads it
    if name == "ConfigError":
        from pytest_carbon.errors import ConfigError

        return ConfigError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: every spelling of "off" for a switch, the history store or the live service
OFF = ("off", "none", "false", "0", "no")


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in OFF or value == "":
        return False
    raise ValueError("expected true or false (1/0, yes/no, on/off)")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError("expected one of: " + ", ".join(choices))
        return value

    return parse


#: the sampler's period, seconds: below 10 ms sampling costs more CPU than the tests it meters,
#: above 60 s a session would be one sample (and the sampler's wait must fit in a thread timeout)
PERIOD_MIN_S = 0.01
PERIOD_MAX_S = 60.0


def _period(text: str) -> float:
    message = f"expected a number of seconds from {PERIOD_MIN_S:g} to {PERIOD_MAX_S:g}, for example 0.5"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(message) from None
    if not math.isfinite(value) or not PERIOD_MIN_S <= value <= PERIOD_MAX_S:
        raise ValueError(message)
    return value


def _whole_number(minimum: int, example: int) -> Callable[[str], int]:
    """A parser of whole numbers of ``minimum`` or more; its message gives ``example``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise ValueError(f"expected a whole number of {minimum} or more, for example {example}")
        return value

    return parse


_non_negative_int = _whole_number(0, 10)
_positive_int = _whole_number(1, 5)


#: ``--carbon-top=all``: every test (a number no suite reaches, so that slicing and ``min`` keep working)
TOP_ALL = 2**62


def _top(text: str) -> int:
    """A number of tests to list, or ``all``."""
    if text.strip().lower() == "all":
        return TOP_ALL
    try:
        return _non_negative_int(text)
    except ValueError:
        raise ValueError("expected a whole number of 0 or more, or all, for example 10 or all") from None


def _providers(text: str) -> tuple[str, ...]:
    from pytest_carbon.advice import parse_providers

    return parse_providers(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number between 0 and 1, for example 0.05") from None
    if not math.isfinite(value) or not 0 < value < 1:
        raise ValueError("expected a number between 0 and 1, for example 0.05")
    return value


def _text(text: str) -> str | None:
    """A name, a path or a URL; None when empty (not given)."""
    return text.strip() or None


def _store(text: str) -> str | None:
    """The history's URL or path ("": the default file); None for every spelling of "off" (none, false, 0, no)."""
    value = text.strip()
    return None if value.lower() in OFF else value


_live_choice = _choice("off", "electricitymaps", "uk-carbon-intensity")


def _live(text: str) -> str:
    """The live service; every spelling of "off" is "off"."""
    return "off" if text.strip().lower() in OFF else _live_choice(text)


def _region_code(text: str) -> str | None:
    """A region code the shipped tables know (checked here so a typo stops the run at start-up); None when empty."""
    code = text.strip()
    if code:
        from pytest_carbon.intensity.regions import RegionError, find_row

        try:
            find_row(code)
        except RegionError as err:
            raise ValueError(str(err).removeprefix("pytest-carbon: ")) from None
    return code or None


def _pue(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a PUE of 1.0 or more, for example 1.2") from None
    if not math.isfinite(value) or not 1.0 <= value <= 5.0:
        raise ValueError("expected a PUE between 1.0 and 5.0, for example 1.2")
    return value


def _output_path(text: str) -> str:
    """A file the plugin will write (``-``: standard output): checked by ``outputs.check_output_path``."""
    from pytest_carbon.outputs import check_output_path

    return check_output_path(text)


def _quantity(text: str) -> Any:
    """An energy or a CO2e mass ("50 J", "5 g"); parsed by units, imported here lazily (it imports this module)."""
    from pytest_carbon.units import parse_quantity

    return parse_quantity(text)


def _percent(text: str) -> float:
    from pytest_carbon.units import parse_percent

    return parse_percent(text)


class Option:
    """One option: its flag, ini name and environment variable derive from ``name``.

    A plain slotted class, not a dataclass: the plugin module imports this one at every pytest
    start, and a dataclass costs far more to create than the whole table of options.
    """

    __slots__ = ("default", "env", "flag", "help", "metavar", "name", "parse")

    def __init__(self, name: str, parse: Callable[[str], Any], default: Any, help: str, metavar: str = "VALUE") -> None:
        self.name = name  # "carbon_json" -> --carbon-json, ini carbon_json, PYTEST_CARBON_JSON
        self.parse = parse
        self.default = default
        self.help = help
        self.metavar = metavar
        self.flag = "--" + name.replace("_", "-")
        self.env = "PYTEST_" + name.upper()

    def __repr__(self) -> str:
        return f"Option({self.name!r})"


#: The switch itself is special: ``--carbon`` takes no value, ``carbon = true`` in ini,
#: ``PYTEST_CARBON=1`` in the environment.
ENABLE = Option("carbon", _bool, False, "meter energy and CO2e of every test")

OPTIONS: tuple[Option, ...] = (
    Option("carbon_json", _output_path, None, "write the JSON report to PATH", "PATH"),
    Option(
        "carbon_scope",
        _choice("process", "machine"),
        "process",
        "what a test is charged for: what the pytest process tree used (process, default) "
        "or everything the machine drew (machine)",
        "SCOPE",
    ),
    Option(
        "carbon_probe",
        _choice("auto", "model", "rapl", "nvml", "none"),
        "auto",
        "energy source: auto (counters where readable, the power model elsewhere), model, rapl, nvml",
        "PROBE",
    ),
    Option(
        "carbon_region",
        _region_code,
        None,
        "where the tests ran, for the grid's carbon intensity: a country (FR), a grid zone "
        "(US-CAL-CISO, zone:DE) or a cloud region (aws:eu-west-1)",
        "CODE",
    ),
    Option(
        "carbon_pue",
        _pue,
        None,
        "data-centre overhead factor (default: the provider's published fleet PUE for a cloud region, else 1.0)",
        "PUE",
    ),
    Option("carbon_cloud_detect", _bool, True, "find the cloud region from region variables and firmware", "BOOL"),
    Option(
        "carbon_cloud_metadata",
        _bool,
        True,
        "on a cloud machine (firmware says so), ask the provider's metadata service for the region (300 ms at most)",
        "BOOL",
    ),
    Option(
        "carbon_sys_root",
        _text,
        None,
        "root of the file system where the firmware (DMI) files are read (empty: /)",
        "PATH",
    ),
    Option(
        "carbon_live",
        _live,
        "off",
        "live grid intensity: off, electricitymaps (token in ELECTRICITYMAPS_API_TOKEN) or uk-carbon-intensity",
        "SERVICE",
    ),
    Option(
        "carbon_live_url", _text, None, "base URL of the live service, for a proxy (empty: the service's own)", "URL"
    ),
    Option("carbon_uk_postcode", _text, None, "UK postcode district for the regional UK figure, e.g. RG10", "POSTCODE"),
    Option("carbon_live_cache_s", _non_negative_int, 1800, "seconds a live figure is reused (0: no cache)", "SECONDS"),
    Option(
        "carbon_cache_dir",
        _text,
        None,
        "folder for cached live figures (empty: pytest-carbon in the user's cache folder)",
        "PATH",
    ),
    Option(
        "carbon_rapl_root",
        _text,
        None,
        "folder of the powercap tree with the RAPL counters (empty: /sys/class/powercap)",
        "PATH",
    ),
    Option(
        "carbon_rapl_psys",
        _bool,
        False,
        "count RAPL's psys (whole platform) domain instead of packages and DRAM",
        "BOOL",
    ),
    Option("carbon_top", _top, 10, "number of tests listed in the summary (0: none; all: every test)", "N"),
    Option(
        "carbon_advice_providers",
        _providers,
        ("aws", "azure", "gcp"),
        "cloud providers whose regions the advice considers, comma-separated: aws, azure, gcp or all "
        "(one provider: its regions only; the run's own provider first where it runs in a cloud region)",
        "LIST",
    ),
    Option(
        "carbon_sort",
        _choice("dynamic", "energy", "co2", "duration", "cpu"),
        "dynamic",
        "what ranks the tests of the summary: dynamic (energy above idle: work, not waiting), energy, co2, "
        "duration, cpu (CPU time)",
        "KEY",
    ),
    Option(
        "carbon_group_by",
        _choice("", "file", "class", "module"),
        "",
        "add totals of the tests by file, class or module to the summary (empty: none)",
        "GROUP",
    ),
    Option(
        "carbon_budget",
        _quantity,
        None,
        'fail the run when the session\'s energy ("50 J", "2 Wh") or CO2e ("5 g") exceeds LIMIT',
        "LIMIT",
    ),
    Option(
        "carbon_test_budget",
        _quantity,
        None,
        'budget of every test without a carbon_budget marker: an energy ("2 J") or a CO2e mass ("5 mg")',
        "LIMIT",
    ),
    Option(
        "carbon_budget_mode",
        _choice("fail", "warn"),
        "fail",
        "what an exceeded budget does: fail (the test, or the run for the session budget) or warn",
        "MODE",
    ),
    Option(
        "carbon_compare",
        _text,
        None,
        "baseline to compare this run with: a previous JSON report (PATH), the last comparable stored run "
        "(last) or the median of the last comparable stored runs (history)",
        "PATH|last|history",
    ),
    Option(
        "carbon_compare_fail",
        _percent,
        None,
        'fail the run when the session or a test uses more than PERCENT over the baseline ("15%"), beyond its noise',
        "PERCENT",
    ),
    Option(
        "carbon_compare_metric",
        _choice("reference", "energy", "co2"),
        "reference",
        "what the comparison judges: reference (default: CPU time corrected for the machine's speed, at a "
        "reference power; follows the code), energy (attributed) or co2",
        "METRIC",
    ),
    Option(
        "carbon_compare_runs",
        _positive_int,
        5,
        "stored runs that make the baseline of --carbon-compare=history",
        "N",
    ),
    Option(
        "carbon_compare_branch",
        _text,
        None,
        "branch whose stored runs make the baseline (empty: this run's branch), e.g. the pull request's base",
        "NAME",
    ),
    Option(
        "carbon_compare_alpha",
        _fraction,
        0.05,
        "significance level of a regression verdict, for the whole run (family-wise)",
        "LEVEL",
    ),
    Option(
        "carbon_confirm",
        _non_negative_int,
        3,
        "most times a test that looks regressed, or over its budget within its noise, is measured again (0: never)",
        "N",
    ),
    Option(
        "carbon_confirm_time",
        _percent,
        0.1,
        'time the confirmations may take, as a share of the main run ("10%")',
        "PERCENT",
    ),
    Option("carbon_junit", _output_path, None, "write a JUnit XML file with each test's energy and CO2e", "PATH"),
    Option("carbon_markdown", _output_path, None, "write a Markdown summary for a pull request", "PATH"),
    Option(
        "carbon_csv",
        _output_path,
        None,
        "add the run's row to a CSV log with CodeCarbon's emissions.csv columns (header written once)",
        "PATH",
    ),
    Option(
        "carbon_csv_tests",
        _output_path,
        None,
        "write one CSV row per test (CodeCarbon's columns, no session row), replacing the file",
        "PATH",
    ),
    Option(
        "carbon_github_summary",
        _bool,
        True,
        "under GitHub Actions, append the Markdown summary to the job summary and annotate budget failures",
        "BOOL",
    ),
    Option(
        "carbon_store",
        _store,
        "",
        "history of runs: postgresql://USER@HOST/DB (password in PGPASSWORD), sqlite:///PATH or a path "
        "(empty: .carbon/history.sqlite under the root folder; off: no history)",
        "URL",
    ),
    Option(
        "carbon_project", _text, None, "project name in the history (empty: pyproject's name or the folder)", "NAME"
    ),
    Option("carbon_organisation", _text, None, "organisation the runs belong to in the history", "NAME"),
    Option("carbon_html", _output_path, None, "write an HTML page of the run (self-contained)", "PATH"),
    Option(
        "carbon_period",
        _period,
        0.5,
        "seconds between two samples of the energy counters and the machine load (0.01 to 60)",
        "SECONDS",
    ),
)

BY_NAME: dict[str, Option] = {opt.name: opt for opt in (ENABLE, *OPTIONS)}


class Resolved:
    """A resolved value and where it came from ("command line", "ini", "environment", "default")."""

    __slots__ = ("origin", "value")

    def __init__(self, value: Any, origin: str) -> None:
        self.value = value
        self.origin = origin

    def __repr__(self) -> str:
        return f"Resolved({self.value!r}, {self.origin!r})"


def resolve(
    option: Option,
    cli_value: Any,
    ini_value: str | None,
    environ: Mapping[str, str],
) -> Resolved:
    """Apply the precedence to one option; raise ConfigError for a value that cannot be used."""
    candidates: list[tuple[str, Any]] = []
    if cli_value is not None:
        candidates.append(("command line", cli_value))
    if ini_value not in (None, "", []):
        candidates.append(("ini", ini_value))
    env_value = environ.get(option.env)
    if env_value is not None and env_value.strip() != "":
        candidates.append(("environment", env_value))
    if not candidates:
        return Resolved(option.default, "default")
    origin, raw = candidates[0]
    if not isinstance(raw, str):
        return Resolved(raw, origin)
    try:
        return Resolved(option.parse(raw), origin)
    except ValueError as err:
        from pytest_carbon.errors import ConfigError

        where = {
            "command line": f"{option.flag}={raw}",
            "ini": f"{option.name} = {raw} (ini file)",
            "environment": f"{option.env}={raw}",
        }[origin]
        raise ConfigError(f"pytest-carbon: {where}: {err}") from None


def resolve_settings(
    cli_value: Callable[[str], Any],
    ini_value: Callable[[str], str | None],
    environ: Mapping[str, str],
) -> Settings:
    """Every option resolved into one ``Settings``; raise ConfigError on the first value that cannot be used.

    ``cli_value`` and ``ini_value`` give an option's raw value by its name (None: not given there).
    """
    from pytest_carbon.settings import Settings

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for option in OPTIONS:
        resolved = resolve(option, cli_value(option.name), ini_value(option.name), environ)
        values[option.name.removeprefix("carbon_")] = resolved.value
        origins[option.name] = resolved.origin
    return Settings(**values, origins=origins)
