"""The report model: its shape (``TypedDict``s), its keys, its schema version, and the one checked way in.

A report is a plain dict of the JSON's shape (``Report``): the plugin builds one at the end of a
session (``pytest_carbon.report.build_report``), the renderers, the store, the merge and the
comparison read it, and a saved report is read back here (``load_report``) so that it renders
exactly as a live one. This module is a leaf (it imports only the standard library) and cheap to
import: the JSON Schema shipped beside it (``report.schema.json``) is read only when ``schema()``
is called, and nothing here needs ``jsonschema``.

The types describe what the plugin writes; a saved report may hold more (a conftest's additions
through ``pytest_carbon_report``, a merged report's shards), and a report of an older plugin may
lack an optional key, which is why readers use ``.get`` for the keys marked ``NotRequired``.
"""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from pytest_carbon.errors import ReportError as ReportError  # the class of every error of a report, re-exported

if TYPE_CHECKING:  # typing.NotRequired is Python 3.11+; the annotations are never evaluated at run time
    from typing_extensions import NotRequired

#: the version of the report's shape (``schema_version``); a reader refuses any other
SCHEMA_VERSION = 1
#: the keys of a test entry the plugin writes, in order
TEST_KEYS = (
    "nodeid",
    "outcome",
    "duration_s",
    "cpu_time_s",
    "energy_j",
    "dynamic_energy_j",
    "co2_g",
    "components_j",
    "file",
    "line",
    "worker",
)
#: the components of a test entry the plugin writes, in order (a probe may add more)
COMPONENT_KEYS = ("cpu", "ram", "gpu")
#: the figures of a test entry, in ``TEST_KEYS`` order
FIGURE_KEYS = ("duration_s", "cpu_time_s", "energy_j", "dynamic_energy_j", "co2_g")
#: a test's outcome, as pytest reports it (``interrupted``: Ctrl-C or pytest.exit() in its set-up or call)
Outcome = Literal["passed", "failed", "skipped", "error", "xfailed", "xpassed", "interrupted"]
#: outcomes that count as a failure
FAILED_OUTCOMES = frozenset(("failed", "error"))

#: energy by component (cpu, ram, gpu, and any a probe adds), joules
Components = dict[str, float]


# ---------------------------------------------------------------------------------------- the shape


class Band(TypedDict):
    """A relative error band (``probes.bands``): half and nine in ten errors are within these per cents."""

    p50_pct: float | None
    p90_pct: float | None
    basis: str


class Tool(TypedDict):
    name: str
    version: str


class Git(TypedDict, total=False):
    commit: str | None
    branch: str | None


class Shard(TypedDict):
    """One shard of a merged report (``pytest-carbon merge``)."""

    name: str
    id: str | None
    region: str | None
    intensity_g_per_kwh: float
    pue: float


class Run(TypedDict):
    """Which run this is: ids, times, project, version control, CI, and the gate's facts."""

    id: str
    started_at: str
    finished_at: str
    project: str
    git: Git
    ci: NotRequired[dict[str, Any]]
    exit_status: NotRequired[int]
    #: signature of the collected node ids (``runinfo.selection_signature``)
    selection: NotRequired[str | None]
    #: pytest-xdist workers (0: a serial run)
    workers: NotRequired[int]
    shards: NotRequired[list[Shard]]


class Probe(TypedDict):
    """A probe's description (``session._describe``), after the run: its error and band added."""

    name: str
    components: list[str]
    measured: bool
    inputs: dict[str, Any]
    notes: NotRequired[list[str]]
    error: NotRequired[str | None]
    band: NotRequired[Band | None]


class Machine(TypedDict):
    cpu_model: str | None
    threads: int
    ram_gb: float | None
    probes: list[Probe]
    hostname: NotRequired[str]
    os: NotRequired[str]
    python: NotRequired[str]


class Region(TypedDict):
    """Where the tests ran and the intensity used (``intensity.regions.Region.to_dict``)."""

    code: str | None
    source: str
    intensity_g_per_kwh: float
    intensity_source: str
    pue: float
    name: NotRequired[str]
    year: NotRequired[int | None]
    basis: NotRequired[str]
    table: NotRequired[str]
    live: NotRequired[bool]
    known: NotRequired[bool]
    note: NotRequired[str | None]


class SessionTotals(TypedDict):
    """The session's figures; ``tests_energy_j`` + ``unattributed_energy_j`` == ``energy_j``."""

    duration_s: float
    energy_j: float
    co2_g: float
    components_j: Components
    tests_energy_j: float
    unattributed_energy_j: float
    static_energy_j: NotRequired[float]
    dynamic_energy_j: NotRequired[float]
    machine_energy_j: NotRequired[float]
    samples: NotRequired[int]
    band: NotRequired[Band | None]
    #: what the confirmations cost (``confirm.py``)
    confirmations: NotRequired[dict[str, Any]]
    #: merged reports: earliest shard start to latest shard finish
    wall_span_s: NotRequired[float]


class Failure(TypedDict):
    """A failing test's first failing phase, as pytest's own ``--junitxml`` writes it."""

    when: str
    message: str
    type: str
    text: str


class Subtests(TypedDict):
    count: int
    failed: int


class Figures(TypedDict):
    """What a metered span carries: a test (its phases together) or a block of its code."""

    duration_s: float
    cpu_time_s: float
    energy_j: float
    dynamic_energy_j: float
    co2_g: float
    components_j: Components


class Block(Figures):
    """A block of a test's code metered with the ``carbon`` fixture."""

    name: str | None


class BudgetVerdict(TypedDict):
    """One budget check (``budget.Verdict.to_dict``): a test entry's ``budget``, or the session's."""

    limit: str
    kind: Literal["energy", "co2"]
    limit_si: float
    measured_si: float
    status: Literal["ok", "exceeded"]
    mode: Literal["fail", "warn"]
    origin: str
    text: str
    measurements: list[float]


class Budgets(TypedDict):
    """The report's ``budget`` (``budget.BudgetResult.to_dict``)."""

    mode: Literal["fail", "warn"]
    session: BudgetVerdict | None
    tests_with_budget: int
    tests_exceeded: list[str]
    failed: bool


class Confirmations(TypedDict, total=False):
    """A test measured again after the run: why, and each repeat's figures."""

    reason: Literal["regression", "budget"]
    cpu_time_s: list[float]
    energy_j: list[float]
    co2_g: list[float]


class TestEntry(Figures):
    """One test: its figures (tear-down included) and what else the run knows of it."""

    nodeid: str
    outcome: Outcome
    file: str | None
    line: int | None
    worker: str | None
    subtests: NotRequired[Subtests]
    attempts: NotRequired[int]
    failure: NotRequired[Failure]
    blocks: NotRequired[list[Block]]
    budget: NotRequired[BudgetVerdict | None]
    confirmations: NotRequired[Confirmations]
    #: merged reports
    shard: NotRequired[str]
    region: NotRequired[str | None]
    duplicate: NotRequired[bool]


class Calibration(TypedDict):
    """The calibration workload's CPU time during the run (``calibrate.summarise``)."""

    cpu_s: float
    samples: int
    spread: NotRequired[float]
    #: under xdist: each worker's own
    workers: NotRequired[dict[str, float]]


Verdict = Literal["regression", "improvement", "within noise", "not judged"]


class Delta(TypedDict):
    """One figure against its baseline (``compare.Delta.to_dict``): the session's or a test's."""

    subject: str
    base: float
    new: float
    regressed: bool
    change: NotRequired[float]
    relative: NotRequired[float | None]
    improved: NotRequired[bool]
    verdict: NotRequired[Verdict]
    reason: NotRequired[str]
    base_runs: NotRequired[int]
    band: NotRequired[list[float]]
    noise: NotRequired[float]
    p_value: NotRequired[float]
    confirmed: NotRequired[bool]
    measurements: NotRequired[list[float]]


class Comparison(TypedDict):
    """The verdicts against the baseline (``compare.Comparison.to_dict``)."""

    metric: Literal["reference", "energy", "co2"]
    regressions: list[Delta]
    regressed: bool
    failed: bool
    threshold: NotRequired[float]
    alpha: NotRequired[float]
    session_floor_j: NotRequired[float]
    test_floor_j: NotRequired[float]
    fail_on_regression: NotRequired[bool]
    base_run: NotRequired[dict[str, Any]]
    base_runs: NotRequired[int]
    session: NotRequired[Delta]
    improvements: NotRequired[list[Delta]]
    judged: NotRequired[int]
    within_noise: NotRequired[int]
    confirmations: NotRequired[dict[str, Any]]
    added: NotRequired[list[str]]
    removed: NotRequired[list[str]]
    notes: NotRequired[list[str]]


class AdviceRegion(TypedDict):
    provider: Literal["aws", "azure", "gcp"]
    code: str
    name: str
    intensity_g_per_kwh: float
    year: int
    source: str
    cut_pct: float
    co2_g: NotRequired[float]
    saving_g: NotRequired[float]


class Advice(TypedDict):
    """Cleaner cloud regions for the run (``advice.advise``), computed once when the report is built."""

    basis: dict[str, Any]
    providers: list[str]
    provider_first: str | None
    regions: list[AdviceRegion]
    co2_g: NotRequired[float | None]


class Report(TypedDict):
    """A whole report, schema version 1."""

    schema_version: int
    tool: Tool
    complete: bool
    run: Run
    machine: Machine
    region: Region | dict[str, Any]  # {} where no region was resolved
    session: SessionTotals
    tests: list[TestEntry]
    scope: NotRequired[Literal["process", "machine"]]
    missing: NotRequired[list[str]]
    warnings: NotRequired[list[str]]
    advice: NotRequired[Advice | None]
    calibration: NotRequired[Calibration]
    budget: NotRequired[Budgets]
    comparison: NotRequired[Comparison]


# ---------------------------------------------------------------------------------------- numbers


def is_number(value: Any, *, finite: bool = False) -> bool:
    """Whether ``value`` is an int or a float (never a bool); with ``finite``, neither NaN nor infinite."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return not finite or math.isfinite(value)


_FLOAT_ONLY = {float}
_test_figures = operator.itemgetter(*FIGURE_KEYS)
_component_figures = operator.itemgetter(*COMPONENT_KEYS)
_LINE_TYPES = (int, type(None))


def plugin_figures(test: Any) -> tuple[float, ...] | None:
    """The eight figures of a test entry of the plugin's own shape, or None for any other entry.

    The plugin's shape: a dict with the keys ``TEST_KEYS`` in that order, ``components_j`` a dict
    with the keys ``COMPONENT_KEYS`` in that order, every figure a float and ``line`` an int or
    None. The figures come in that order (``duration_s`` to ``co2_g``, then the components); the
    JSON writer and the store take a direct path for such entries.
    """
    if type(test) is not dict or tuple(test) != TEST_KEYS:
        return None
    comps = test["components_j"]
    if type(comps) is not dict or tuple(comps) != COMPONENT_KEYS or type(test["line"]) not in _LINE_TYPES:
        return None
    figures: tuple[float, ...] = _test_figures(test) + _component_figures(comps)
    # every figure a float: no int, no bool
    return figures if set(map(type, figures)) == _FLOAT_ONLY else None


# ---------------------------------------------------------------------------------------- checks

#: the deepest nesting a saved report may have (the plugin's own reports go 5 levels deep)
MAX_DEPTH = 64
#: the smallest value of each figure, where a report keeps figures: session and test entries (and
#: their components), the region and each shard of a merged report; any other number must be finite
FIGURE_MINIMUM: dict[str, float] = {
    "duration_s": 0.0,
    "cpu_time_s": 0.0,
    "energy_j": 0.0,
    "dynamic_energy_j": 0.0,
    "static_energy_j": 0.0,
    "co2_g": 0.0,
    "tests_energy_j": 0.0,
    "machine_energy_j": 0.0,
    "wall_span_s": 0.0,
    "samples": 0.0,
    "shards": 0.0,
    "intensity_g_per_kwh": 0.0,
    "pue": 1.0,
}
_COMPONENTS = "components_j"


def _where(path: tuple[Any, ...]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def check_figures(report: Mapping[str, Any], label: str) -> None:
    """Refuse NaN and infinite numbers anywhere, figures below their minimum, and nesting past ``MAX_DEPTH``.

    The message starts with ``label`` and names the key (``tests[3].energy_j``), with the test's
    node id where there is one. Figures are the numbers at the keys of ``FIGURE_MINIMUM`` (and
    every component) in the session, the test entries, the region and the shards of a merged run.
    """
    # (container, its path, whether its numbers are figures); walked without recursion
    stack: list[tuple[Any, tuple[Any, ...], bool]] = []
    for key, item in report.items():
        if key == "tests" and type(item) is list:
            _check_tests(report, item, label, stack)
        elif type(item) is dict or type(item) is list:
            stack.append((item, (key,), _holds_figures((key,))))
        elif (type(item) is float or type(item) is int) and item - item != 0:
            _refuse(report, label, (key,), item, None)
    while stack:
        value, path, figures = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise ReportError(
                f"{label} is nested more than {MAX_DEPTH} levels deep (under {path[0]!r}), "
                "too deep to be a pytest-carbon report"
            )
        items: Iterable[tuple[Any, Any]] = value.items() if type(value) is dict else enumerate(value)
        for key, item in items:
            kind = type(item)
            if kind is float or kind is int:
                minimum = (0.0 if path[-1] == _COMPONENTS else FIGURE_MINIMUM.get(key)) if figures else None
                # x - x is 0 for a finite number, NaN for NaN and for an infinity
                if item - item != 0 or (minimum is not None and item < minimum):
                    _refuse(report, label, (*path, key), item, minimum)
            elif kind is dict or kind is list:
                below = (*path, key)
                stack.append((item, below, _holds_figures(below)))


def _check_tests(
    report: Mapping[str, Any], tests: list[Any], label: str, stack: list[tuple[Any, tuple[Any, ...], bool]]
) -> None:
    """``check_figures`` for the test entries, the bulk of a report: a direct loop over each entry."""
    minima = FIGURE_MINIMUM
    for index, entry in enumerate(tests):
        if type(entry) is not dict:
            if type(entry) is list:
                stack.append((entry, ("tests", index), False))
            continue
        for key, item in entry.items():
            kind = type(item)
            if kind is float or kind is int:
                minimum = minima.get(key)
                if item - item != 0 or (minimum is not None and item < minimum):
                    _refuse(report, label, ("tests", index, key), item, minimum)
            elif kind is dict and key == _COMPONENTS:
                for name, part in item.items():
                    if type(part) is float or type(part) is int:
                        if part - part != 0 or part < 0:
                            _refuse(report, label, ("tests", index, key, name), part, 0.0)
                    elif type(part) is dict or type(part) is list:
                        stack.append((part, ("tests", index, key, name), False))
            elif kind is dict or kind is list:
                stack.append((item, ("tests", index, key), False))


def _holds_figures(path: tuple[Any, ...]) -> bool:
    """Whether the numbers of the container at ``path`` are figures."""
    if path in (("session",), ("region",), ("session", _COMPONENTS)):
        return True
    if len(path) >= 2 and path[0] == "tests" and isinstance(path[1], int):
        return len(path) == 2 or path[2:] == (_COMPONENTS,)
    return len(path) == 3 and path[:2] == ("run", "shards") and isinstance(path[2], int)


def _refuse(report: Mapping[str, Any], label: str, path: tuple[Any, ...], value: float, minimum: float | None) -> None:
    test = ""
    if path[0] == "tests":
        entry = report["tests"][path[1]]
        if isinstance(entry, Mapping) and isinstance(entry.get("nodeid"), str):
            test = f" (test {entry['nodeid']})"
    if value != value or value in (math.inf, -math.inf):
        shown = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        what = "a finite number"
    else:
        shown, what = repr(value), f"a number of {minimum:g} or more"
    raise ReportError(f"{label}: {_where(path)}{test} is {shown}; a report holds {what} there")


def check_report(report: Any, label: str, *, finite: bool = False, tests: bool = True) -> None:
    """Check the figures every reader of a saved report needs; raise ReportError naming ``label`` otherwise.

    A report is a JSON object with numbers at ``session.energy_j`` and ``session.co2_g`` and a list
    of tests, each with a string ``nodeid`` and numbers at ``energy_j`` and ``co2_g``. ``label`` (a
    file path, "shard NAME") starts each message; ``finite`` refuses NaN and infinite figures too;
    ``tests=False`` checks only that the tests are a list (for a report this process just built).
    """
    if not isinstance(report, Mapping):
        raise ReportError(f"{label} is not a report (expected a JSON object)")
    session = report.get("session")
    if not isinstance(session, Mapping) or not all(
        is_number(session.get(k), finite=finite) for k in ("energy_j", "co2_g")
    ):
        raise ReportError(
            f"{label} has no session figures (session.energy_j, session.co2_g): is it a full pytest-carbon report?"
        )
    entries = report.get("tests")
    if not isinstance(entries, list):
        raise ReportError(f"{label} has no list of tests")
    if not tests:
        return
    for index, test in enumerate(entries):
        if not isinstance(test, Mapping) or not isinstance(test.get("nodeid"), str):
            raise ReportError(f"{label}: tests[{index}] has no nodeid")
        if not all(is_number(test.get(k), finite=finite) for k in ("energy_j", "co2_g")):
            raise ReportError(f"{label}: tests[{index}] ({test['nodeid']}) has no energy_j or co2_g figure")


def check_storable(report: Any, *, tests: bool = True) -> None:
    """Raise ReportError unless ``report`` has what the store needs (run id, session figures, tests).

    ``tests=False`` leaves out the check of each test entry (for a report this process built).
    """
    if not isinstance(report, Mapping):
        raise ReportError("a report is a JSON object; this is not one")
    run = report.get("run")
    if not isinstance(run, Mapping) or not isinstance(run.get("id"), str) or not run["id"].strip():
        raise ReportError("the report has no run.id: is it a report written by pytest --carbon-json?")
    try:
        check_report(report, "the report", tests=tests)
    except ValueError as err:
        raise ReportError(str(err)) from err


# ---------------------------------------------------------------------------------------- loading


def load_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved report, the one checked way in; raise ReportError naming ``path`` for anything else.

    Refused, each with a message that names the file: a file that cannot be read, text that is not
    UTF-8 or not JSON, JSON nested deeper than ``MAX_DEPTH``, anything but a report of schema
    version 1, and a report with a figure that is NaN, infinite or below its minimum (``check_figures``).
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ReportError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ReportError(
            f"{path} is not UTF-8 text (byte {err.start}: {data[err.start : err.start + 1]!r}); "
            "a JSON report is written in UTF-8"
        ) from None
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReportError(f"{path} is not JSON: {err}") from None
    except RecursionError:
        raise ReportError(f"{path} is nested too deeply to be a pytest-carbon report") from None
    if not isinstance(loaded, dict) or "schema_version" not in loaded:
        raise ReportError(f"{path} is not a pytest-carbon report (no schema_version)")
    if loaded["schema_version"] != SCHEMA_VERSION:
        raise ReportError(
            f"{path} has report schema version {loaded['schema_version']!r}; "
            f"this pytest-carbon reads version {SCHEMA_VERSION}"
        )
    check_figures(loaded, str(path))
    return loaded


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved report for the renderers and the gate: checked, with the keys they need filled in.

    ``load_json`` and ``check_report``; then a test without a duration or components gets 0 and
    ``{}``, and a session without ``duration_s``, ``tests_energy_j`` or ``unattributed_energy_j``
    gets them from its figures; a report without a machine or a region gets empty ones.
    """
    report = load_json(path)
    check_report(report, str(path))
    session = report["session"]
    tests = report["tests"]
    for test in tests:
        test.setdefault("duration_s", 0.0)
        test.setdefault("components_j", {})
    session.setdefault("duration_s", 0.0)
    session.setdefault("tests_energy_j", sum(float(t["energy_j"]) for t in tests))
    session.setdefault("unattributed_energy_j", float(session["energy_j"]) - float(session["tests_energy_j"]))
    report.setdefault("machine", {"probes": []})
    report.setdefault("region", {})
    return report


def schema() -> dict[str, Any]:
    """The JSON Schema of the report, as shipped in the package (read on each call)."""
    from importlib import resources

    text = resources.files("pytest_carbon").joinpath("report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
