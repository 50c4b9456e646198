"""Building the report (``pytest_carbon.model.Report``) once at the end of a session, from plain records.

``build_report`` knows nothing of pytest or of the session object: the session hands it what it
recorded (``RunFacts``, the tests' columns, the meter's figures and totals, the region, the
probes, and under xdist the workers' facts) and gets a new dict back; its inputs are left as
they were. Renderers, stores and comparers read only that dict, so a saved report renders
exactly as a live one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pytest_carbon import __version__
from pytest_carbon.meter import AllFigures, Totals
from pytest_carbon.model import SCHEMA_VERSION
from pytest_carbon.probes.bands import band_of
from pytest_carbon.probes.bands import combined as combined_band
from pytest_carbon.probes.base import COMPONENTS

__all__ = [
    "SCHEMA_VERSION",
    "Row",
    "RunFacts",
    "WorkerFacts",
    "build_report",
    "iso_utc",
]


def iso_utc(timestamp: float) -> str:
    """ISO 8601 in UTC with a Z, to the second."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunFacts(NamedTuple):
    """What the report says of the run itself, read by the session before the report is built."""

    run_id: str
    started_at: float
    #: None when the session never finished (the start stands for it)
    finished_at: float | None
    project: str
    git: Mapping[str, Any]
    ci: Mapping[str, Any]
    #: the machine's facts (``runinfo.machine_facts``); its probes are replaced by ``build_report``'s
    machine: Mapping[str, Any]
    #: "process" or "machine" (``--carbon-scope``)
    scope: str
    complete: bool
    exit_status: int
    #: the providers the cleaner-region advice considers (``--carbon-advice-providers``); None: all
    advice_providers: Sequence[str] | None = None


if TYPE_CHECKING:  # a type only: mypy checks the session's records against it, nothing is made at run time

    class RecordColumns(Protocol):
        """The tests the session followed, a list a field (``session.TestRecords``), a test an index."""

        @property
        def nodeids(self) -> Sequence[str]: ...
        @property
        def outcomes(self) -> Sequence[str]: ...
        @property
        def files(self) -> Sequence[str | None]: ...
        @property
        def lines(self) -> Sequence[int | None]: ...
        @property
        def workers(self) -> Sequence[str | None]: ...
        #: index -> [subtests reported, subtests failed]
        @property
        def subtests(self) -> Mapping[int, Sequence[int]]: ...
        #: index -> how many times the test ran (only for rerun tests)
        @property
        def attempts(self) -> Mapping[int, int]: ...
        #: index -> its first failing phase (``session.failure_detail``)
        @property
        def failures(self) -> Mapping[int, Mapping[str, str]]: ...
        #: index -> the blocks its code metered with the ``carbon`` fixture
        @property
        def blocks(self) -> Mapping[int, list[dict[str, Any]]]: ...


class WorkerFacts(NamedTuple):
    """On the xdist controller: what the workers sent, and what became of those that died."""

    #: worker id -> what it sent at its end (``session._send_to_controller``)
    outputs: Mapping[str, Mapping[str, Any]]
    #: the totals of the workers that died, from their timeline up to its last sample
    partial_totals: Sequence[Totals] = ()
    #: worker id -> why it died
    dead: Mapping[str, str] = {}
    #: worker id -> the tests that were running when it died
    lost_tests: Mapping[str, Sequence[str]] = {}
    #: the indexes of the tests that have no figures (their worker died before sending them)
    no_figures: frozenset[int] | set[int] = frozenset()


class Row(NamedTuple):
    """One test's record and figures, as ``_rows`` reads them from the columns."""

    position: int
    nodeid: str
    outcome: str
    file: str | None
    line: int | None
    worker: str | None
    duration_s: float
    cpu_time_s: float
    energy_j: float
    dynamic_energy_j: float
    components_j: dict[str, float]


def build_report(
    run: RunFacts,
    records: RecordColumns,
    figures: AllFigures,
    totals: Totals,
    *,
    region: Mapping[str, Any] | None,
    factor: float,
    probes: Sequence[Mapping[str, Any]],
    failed_probes: Mapping[str, str] | None = None,
    replacements: Mapping[str, str] | None = None,
    workers: WorkerFacts | None = None,
) -> dict[str, Any]:
    """The report of a run, a new dict: nothing given is changed.

    ``figures`` holds each test's figures by column (``meter.AllFigures``); when it does not have
    one row per record (the meter never attributed), every figure is 0. ``totals`` are the
    meter's; on the xdist controller (``workers`` given) each worker's own dynamic energy is
    added to them. ``factor`` is grams of CO2e per joule (``units.co2_g_per_j`` of ``region``);
    ``probes`` the probes' descriptions, ``failed_probes`` those that failed during the run (name ->
    why) and ``replacements`` the probe that took over from each failed one.
    """
    failed_probes = failed_probes or {}
    replacements = replacements or {}
    if len(figures) != len(records.nodeids):  # no attribution (the meter never started)
        figures = AllFigures(len(records.nodeids))
    tests = [_test_entry(row, records, factor) for row in _rows(records, figures)]
    totals = _merge_workers(totals, workers, run.scope)
    described = _described_probes(probes, failed_probes)
    region_dict = dict(region) if region is not None else {}
    session = _session_totals(totals, tests, factor, described)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-carbon", "version": __version__},
        "complete": run.complete,
        "run": _run_section(run),
        "machine": {**run.machine, "probes": described},
        "scope": run.scope,
        "region": region_dict,
        "session": session,
        "missing": _missing(records, workers, probes, failed_probes, replacements),
        "advice": _advice(region_dict, totals.energy_j, run.advice_providers),
        "tests": tests,
    }


def _rows(records: RecordColumns, figures: AllFigures) -> Iterator[Row]:
    """Each test's record beside its figures, in the order the tests were recorded."""
    # cpu, ram and gpu first and always there; then any component a probe added
    components = _ordered(figures.components_j)
    for index, nodeid in enumerate(records.nodeids):
        yield Row(
            position=index,
            nodeid=nodeid,
            outcome=records.outcomes[index],
            file=records.files[index],
            line=records.lines[index],
            worker=records.workers[index],
            duration_s=figures.duration_s[index],
            cpu_time_s=figures.cpu_time_s[index],
            energy_j=figures.energy_j[index],
            dynamic_energy_j=figures.dynamic_energy_j[index],
            components_j={comp: column[index] for comp, column in components},
        )


def _ordered(components: Mapping[str, list[float]]) -> list[tuple[str, list[float]]]:
    known = [(comp, components[comp]) for comp in COMPONENTS]
    return known + [(comp, column) for comp, column in components.items() if comp not in COMPONENTS]


def _test_entry(row: Row, records: RecordColumns, factor: float) -> dict[str, Any]:
    """A test's entry (``model.TestEntry``): its figures, then what else is known of it."""
    entry: dict[str, Any] = {
        "nodeid": row.nodeid,
        "outcome": row.outcome,
        "duration_s": row.duration_s,
        "cpu_time_s": row.cpu_time_s,
        "energy_j": row.energy_j,
        "dynamic_energy_j": row.dynamic_energy_j,
        "co2_g": row.energy_j * factor,
        "components_j": row.components_j,
        "file": row.file,
        "line": row.line,
        "worker": row.worker,
    }
    index = row.position
    if index in records.subtests:
        count, failed = records.subtests[index]
        entry["subtests"] = {"count": count, "failed": failed}
    if index in records.attempts:
        entry["attempts"] = records.attempts[index]
    if index in records.failures:
        entry["failure"] = records.failures[index]
    if index in records.blocks:
        entry["blocks"] = records.blocks[index]
    return entry


def _merge_workers(totals: Totals, workers: WorkerFacts | None, scope: str) -> Totals:
    """Controller of an xdist run: add each worker's own dynamic energy to the controller's totals.

    The controller's meter already holds the machine's static energy over the whole run, counted
    once (the workers charged their tests a share of it while they ran). In scope "machine" the
    controller's totals are the whole machine's, workers included, so nothing is added. A worker
    that died sent no totals: its timeline's, up to the last sample it sent, stand for them.
    """
    if workers is None or scope == "machine":
        return totals
    components = dict(totals.components_j)
    dynamic = dict(totals.dynamic_components_j)
    dynamic_j = totals.dynamic_j
    sent: list[Mapping[str, Any]] = list(workers.outputs.values())
    sent += [
        {"dynamic_components_j": partial.dynamic_components_j, "dynamic_j": partial.dynamic_j}
        for partial in workers.partial_totals
    ]
    for out in sent:
        for comp, energy_j in out.get("dynamic_components_j", {}).items():
            components[comp] = components.get(comp, 0.0) + energy_j
            dynamic[comp] = dynamic.get(comp, 0.0) + energy_j
        dynamic_j += out.get("dynamic_j", 0.0)
    return Totals(
        duration_s=totals.duration_s,
        energy_j=totals.static_j + dynamic_j,
        components_j=components,
        static_j=totals.static_j,
        dynamic_j=dynamic_j,
        dynamic_components_j=dynamic,
        machine_energy_j=totals.machine_energy_j,
        intervals=totals.intervals,
    )


def _described_probes(probes: Sequence[Mapping[str, Any]], failed: Mapping[str, str]) -> list[dict[str, Any]]:
    """Copies of the probes' descriptions, each with its error (when it failed) and its error band."""
    described = []
    for probe in probes:
        desc = dict(probe)
        if desc["name"] in failed:
            desc["error"] = failed[desc["name"]]
        desc["band"] = band_of(desc)  # how far off its figures may be (a counter's own, or the model's)
        described.append(desc)
    return described


def _session_totals(
    totals: Totals, tests: list[dict[str, Any]], factor: float, probes: list[dict[str, Any]]
) -> dict[str, Any]:
    """The session's figures (``model.SessionTotals``): what the tests drew, and the remainder."""
    components_j = {c: totals.components_j.get(c, 0.0) for c in COMPONENTS}
    tests_energy_j = math.fsum(entry["energy_j"] for entry in tests)
    return {
        "duration_s": totals.duration_s,
        "energy_j": totals.energy_j,
        "co2_g": totals.energy_j * factor,
        "components_j": components_j,
        "tests_energy_j": tests_energy_j,
        "unattributed_energy_j": totals.energy_j - tests_energy_j,
        "static_energy_j": totals.static_j,
        "dynamic_energy_j": totals.dynamic_j,
        "machine_energy_j": totals.machine_energy_j,
        "samples": totals.intervals,
        "band": combined_band(probes, components_j),
    }


def _run_section(run: RunFacts) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(run.finished_at or run.started_at),
        "project": run.project,
        "git": dict(run.git),
        "ci": dict(run.ci),
        "exit_status": run.exit_status,
    }


def _missing(
    records: RecordColumns,
    workers: WorkerFacts | None,
    probes: Sequence[Mapping[str, Any]],
    failed_probes: Mapping[str, str],
    replacements: Mapping[str, str],
) -> list[str]:
    """What the figures leave out, one sentence each: dead workers, failed probes, no probe at all."""
    missing = _missing_from_workers(records, workers)
    for name, why in failed_probes.items():
        comps: list[str] = next((list(d["components"]) for d in probes if d["name"] == name), [])
        what = ", ".join(comps) or "its"
        if name in replacements:
            missing.append(
                f"probe {name} failed during the session ({why}); from then on {what} energy is "
                f"estimated by the {replacements[name]} probe instead of measured"
            )
        else:
            missing.append(
                f"probe {name} failed during the session ({why}); {what} energy after that point "
                "is missing from every figure"
            )
    covered = {c for d in probes for c in d["components"]}
    if not covered & {"cpu", "ram"}:
        missing.append("no probe covered the CPU or memory: energy figures are 0")
    if workers is not None:
        for worker, out in sorted(workers.outputs.items()):
            for name, why in out.get("failed_probes", {}).items():
                missing.append(f"probe {name} failed on worker {worker} ({why}); its energy after that is missing")
    return missing


def _missing_from_workers(records: RecordColumns, workers: WorkerFacts | None) -> list[str]:
    if workers is None:
        return []
    missing = []
    no_figures = [records.nodeids[index] for index in sorted(workers.no_figures) if index < len(records.nodeids)]
    if no_figures:
        missing.append(
            f"{len(no_figures)} test(s) have no figures because their worker died before sending them "
            "(the test it was running, and those that ended in its last sampler period): "
            + ", ".join(no_figures[:5])
            + (" ..." if len(no_figures) > 5 else "")
        )
    for worker, why in sorted(workers.dead.items()):
        lost = workers.lost_tests.get(worker)
        during = f" while running {', '.join(lost)} (reported failed, as pytest reports it)" if lost else ""
        missing.append(
            f"worker {worker} died ({why}){during}; the report is incomplete; its tests that ended before the "
            "last sample it sent keep their figures"
        )
    return missing


def _advice(region: Mapping[str, Any], energy_j: float, providers: Sequence[str] | None) -> dict[str, Any] | None:
    """Cleaner cloud regions for this run (``pytest_carbon.advice``); None when the tables cannot be read."""
    from pytest_carbon.advice import PROVIDERS, advise

    try:
        return advise(region, energy_j, providers=tuple(providers or PROVIDERS))
    except Exception:  # advice is a courtesy: the report never fails for it
        return None
