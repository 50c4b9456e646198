"""The plugin's settings, resolved once: one typed, frozen object instead of a dict of values.

``config.resolve_settings`` makes it from the command line, the ini file and the environment
(``config.py`` parses and checks every value, before the first test). Each field holds the value
as every reader uses it: a number is a number (0 means 0), a switch is a bool, a path or a name
not given is None, and every spelling of "off" (off, none, false, 0, no) is one value. A field is
named as its option without ``carbon_``: ``--carbon-top`` is ``settings.top``.

Imported only when ``--carbon`` is on: a session without it never creates the class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pytest_carbon.units import Quantity

Scope = Literal["process", "machine"]
ProbeChoice = Literal["auto", "model", "rapl", "nvml", "none"]
LiveService = Literal["off", "electricitymaps", "uk-carbon-intensity"]
SortKey = Literal["dynamic", "energy", "co2", "duration", "cpu"]
GroupBy = Literal["", "file", "class", "module"]
BudgetMode = Literal["fail", "warn"]
CompareMetric = Literal["reference", "energy", "co2"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Every option of the plugin, typed; the defaults are the options' defaults (``config.OPTIONS``)."""

    #: --carbon-json: the JSON report's path ("-": standard output), None: not asked for
    json: str | None = None
    scope: Scope = "process"
    probe: ProbeChoice = "auto"
    #: --carbon-region: the region code given (checked against the tables), None: not given
    region: str | None = None
    pue: float | None = None
    cloud_detect: bool = True
    cloud_metadata: bool = True
    #: root of the file system where the firmware files are read, None: /
    sys_root: str | None = None
    live: LiveService = "off"
    #: base URL of the live service, None: the service's own
    live_url: str | None = None
    #: the UK postcode (district first), None: the national figure
    uk_postcode: str | None = None
    live_cache_s: int = 1800
    #: folder of the cached live figures, None: the user's cache folder
    cache_dir: str | None = None
    #: the powercap folder, None: /sys/class/powercap
    rapl_root: str | None = None
    rapl_psys: bool = False
    #: tests listed in the summaries (0: none; ``config.TOP_ALL`` for all)
    top: int = 10
    advice_providers: tuple[str, ...] = ("aws", "azure", "gcp")
    sort: SortKey = "dynamic"
    group_by: GroupBy = ""
    budget: Quantity | None = None
    test_budget: Quantity | None = None
    budget_mode: BudgetMode = "fail"
    #: the baseline: a JSON report's path, "last" or "history"; None: no comparison
    compare: str | None = None
    #: the comparison's threshold as a fraction (0.15 for "15%"), None: the comparison's default
    compare_fail: float | None = None
    compare_metric: CompareMetric = "reference"
    compare_runs: int = 5
    #: the branch whose stored runs make the baseline, None: this run's branch
    compare_branch: str | None = None
    compare_alpha: float = 0.05
    confirm: int = 3
    #: the confirmations' share of the main run's time, as a fraction
    confirm_time: float = 0.1
    junit: str | None = None
    markdown: str | None = None
    csv: str | None = None
    csv_tests: str | None = None
    github_summary: bool = True
    #: the history's URL or path; "": the default file under the root folder; None: no history (off)
    store: str | None = ""
    project: str | None = None
    organisation: str | None = None
    html: str | None = None
    period: float = 0.5
    #: where each option's value came from, by option name: "command line", "ini", "environment", "default"
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def origin(self, option: str) -> str:
        """Where the value of ``option`` (``carbon_region``) came from; "default" when it was not given."""
        return self.origins.get(option, "default")

    @property
    def artefacts(self) -> dict[str, str | None]:
        """The artefacts a run writes, by name in the renderers' registry, in order: a path, or None."""
        return {
            "json": self.json,
            "junit": self.junit,
            "markdown": self.markdown,
            "csv": self.csv,
            "csv_tests": self.csv_tests,
            "html": self.html,
        }
