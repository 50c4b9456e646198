"""Merging shard reports: one report for a suite split across several machines, even several regions.

Pure logic on report dicts (schema version 1); nothing here imports pytest. Each test keeps its own
figures, so its CO2e stays that of the grid it ran on; session totals add. When the shards ran in
different regions, the merged region is an energy-weighted mean chosen so that the totals still obey
``co2_g = energy_j / 3.6e6 * pue * intensity_g_per_kwh``.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pytest_carbon import __version__
from pytest_carbon.model import SCHEMA_VERSION, check_report, is_number
from pytest_carbon.units import J_PER_KWH

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: session figures that every report has; they add across shards
_SESSION_SUMS = ("duration_s", "energy_j", "co2_g", "tests_energy_j", "unattributed_energy_j")
#: session figures that some reports have; they add when every shard has them
_SESSION_OPTIONAL_SUMS = ("static_energy_j", "dynamic_energy_j", "machine_energy_j", "samples")
#: machine facts kept at the top level when every shard shares them
_MACHINE_FACTS = ("hostname", "cpu_model", "threads", "ram_gb", "os", "python")


def _parse_time(text: Any, where: str) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"{where} is missing; it should read like 2026-11-29T03:00:00Z")
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"{where} is {text!r}; it should read like 2026-11-29T03:00:00Z") from None


def _entry_copy(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a test entry: its nested values (components, budget, subtests) are flat, so one level deep."""
    return {
        key: dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
        for key, value in entry.items()
    }


def _check_shard(report: Mapping[str, Any], name: str) -> None:
    """Refuse a shard that lacks the figures a merge adds up, naming what is missing."""
    label = f"shard {name}"
    if isinstance(report, Mapping) and report.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{label} has report schema version {report.get('schema_version')!r}; "
            f"this pytest-carbon merges version {SCHEMA_VERSION}"
        )
    check_report(report, label, finite=True)
    session = report["session"]
    for key in _SESSION_SUMS:
        if not is_number(session.get(key), finite=True):
            raise ValueError(f"{label} has no number at session.{key}")
    if not isinstance(session.get("components_j"), Mapping):
        raise ValueError(f"{label} has no session.components_j")
    run = report.get("run")
    if not isinstance(run, Mapping):
        raise ValueError(f"{label} has no run section")
    _parse_time(run.get("started_at"), f"{label}: run.started_at")
    _parse_time(run.get("finished_at"), f"{label}: run.finished_at")


def _common(values: Iterable[Any]) -> tuple[bool, Any]:
    """(True, value) when every value is the same, else (False, None)."""
    items = list(values)
    if items and all(item == items[0] for item in items[1:]):
        return True, items[0]
    return False, None


def _shard_region(report: Mapping[str, Any]) -> dict[str, Any]:
    """The shard's region, with an intensity and a PUE even when the report had none."""
    region = dict(report.get("region") or {})
    pue = region.get("pue")
    region["pue"] = float(pue) if isinstance(pue, (int, float)) and is_number(pue, finite=True) else 1.0
    if not is_number(region.get("intensity_g_per_kwh"), finite=True):
        # No region figure: recover the factor the shard used from its own totals.
        session = report["session"]
        energy_j = float(session["energy_j"])
        region["intensity_g_per_kwh"] = (
            float(session["co2_g"]) * J_PER_KWH / (energy_j * region["pue"]) if energy_j > 0 else 0.0
        )
    region.setdefault("code", None)
    return region


def _region_label(name: str, region: Mapping[str, Any]) -> str:
    code = region.get("code") or "unknown region"
    return f"{name} ({code}, {region['intensity_g_per_kwh']} g/kWh, PUE {region['pue']})"


def merged_region(
    regions: Sequence[Mapping[str, Any]], energies_j: Sequence[float], names: Sequence[str]
) -> dict[str, Any]:
    """The top-level region of a merge: the shards' own when they agree, else an energy-weighted mean.

    With shard energies E_i, PUEs p_i and intensities I_i, the merged PUE is sum(E_i p_i) / sum(E_i) and
    the merged intensity sum(E_i p_i I_i) / sum(E_i p_i) (each shard weighted by the energy its facility
    drew), so that sum(E_i) * PUE * intensity equals sum(E_i p_i I_i): the totals' CO2e.
    """
    agree, _ = _common(
        (r.get("code"), r["intensity_g_per_kwh"], r["pue"], bool(r.get("live")), r.get("known", True)) for r in regions
    )
    if agree:
        return copy.deepcopy(dict(regions[0]))
    pues = [float(r["pue"]) for r in regions]
    intensities = [float(r["intensity_g_per_kwh"]) for r in regions]
    energy_j = math.fsum(energies_j)
    facility_j = [e * p for e, p in zip(energies_j, pues, strict=True)]
    if energy_j > 0 and math.fsum(facility_j) > 0:
        pue = math.fsum(facility_j) / energy_j
        intensity = math.fsum(f * i for f, i in zip(facility_j, intensities, strict=True)) / math.fsum(facility_j)
    else:  # nothing to weigh by: the plain means
        pue = math.fsum(pues) / len(pues)
        intensity = math.fsum(intensities) / len(intensities)
    pue = min(max(pue, min(pues)), max(pues))  # keep rounding inside the shards' range (and >= 1)
    codes = ", ".join(dict.fromkeys(str(r.get("code") or "unknown") for r in regions))
    sources = sorted({str(r.get("intensity_source")) for r in regions if r.get("intensity_source")})
    year_agree, year = _common(r.get("year") for r in regions)
    basis_agree, basis = _common(r.get("basis") for r in regions)
    return {
        "code": None,
        "name": f"merged shards: {codes}",
        "source": "merged",
        "intensity_g_per_kwh": intensity,
        "intensity_source": "energy-weighted mean of the shards' intensities"
        + (f" ({', '.join(sources)})" if sources else ""),
        "year": year if year_agree else None,
        "basis": basis if basis_agree else None,
        "table": None,
        "pue": pue,
        "live": any(bool(r.get("live")) for r in regions),
        "known": all(bool(r.get("known", True)) for r in regions),
        "note": "shards ran in several regions: "
        + "; ".join(_region_label(n, r) for n, r in zip(names, regions, strict=True))
        + ". Each test keeps its own region's intensity; this figure is the energy-weighted mean of the totals.",
    }


def _merged_session(sessions: Sequence[Mapping[str, Any]], wall_span_s: float, missing: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {key: math.fsum(float(s[key]) for s in sessions) for key in _SESSION_SUMS}
    components: dict[str, float] = {"cpu": 0.0, "ram": 0.0, "gpu": 0.0}
    for session in sessions:
        for comp, energy_j in session["components_j"].items():
            components[str(comp)] = components.get(str(comp), 0.0) + float(energy_j)
    out["components_j"] = components
    for key in _SESSION_OPTIONAL_SUMS:
        present = [s for s in sessions if is_number(s.get(key), finite=True)]
        if len(present) == len(sessions):
            total = math.fsum(float(s[key]) for s in sessions)
            out[key] = int(total) if key == "samples" else total
        elif present:
            missing.append(
                f"session.{key} is left out of the merge: only {len(present)} of {len(sessions)} shards have it"
            )
    out["wall_span_s"] = wall_span_s
    out["shards"] = len(sessions)
    return out


def _merged_machine(reports: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    machines = [r.get("machine") or {} for r in reports]
    out: dict[str, Any] = {}
    for key in _MACHINE_FACTS:
        agree, value = _common(m.get(key) for m in machines)
        out[key] = value if agree else None
    if not (is_number(out["threads"], finite=True) and out["threads"] >= 1):
        threads = [
            int(m["threads"]) for m in machines if is_number(m.get("threads"), finite=True) and m["threads"] >= 1
        ]
        out["threads"] = max(threads, default=1)  # the schema wants a count; each shard's own is in run.shards
    probes = []
    for name, machine in zip(names, machines, strict=True):
        for probe in machine.get("probes") or []:
            probes.append({**copy.deepcopy(probe), "shard": name})
    out["probes"] = probes
    return out


def _merged_run(
    reports: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    regions: Sequence[Mapping[str, Any]],
    started: Sequence[datetime],
    finished: Sequence[datetime],
) -> dict[str, Any]:
    runs = [r["run"] for r in reports]
    project_agree, project = _common(run.get("project") for run in runs)
    if not project_agree:
        project = ", ".join(dict.fromkeys(str(run.get("project")) for run in runs))
    gits = [run.get("git") or {} for run in runs]
    commit_agree, commit = _common(g.get("commit") for g in gits)
    branch_agree, branch = _common(g.get("branch") for g in gits)
    provider_agree, provider = _common((run.get("ci") or {}).get("provider") for run in runs)
    statuses = [int(run["exit_status"]) for run in runs if isinstance(run.get("exit_status"), int)]
    shards = []
    for name, report, region, start, end in zip(names, reports, regions, started, finished, strict=True):
        machine = {k: v for k, v in (report.get("machine") or {}).items() if k != "probes"}
        shards.append(
            {
                "name": name,
                "id": report["run"].get("id"),
                "started_at": start.strftime(_TIME_FORMAT),
                "finished_at": end.strftime(_TIME_FORMAT),
                "complete": bool(report.get("complete", True)),
                "exit_status": report["run"].get("exit_status"),
                "region": region.get("code"),
                "intensity_g_per_kwh": region["intensity_g_per_kwh"],
                "pue": region["pue"],
                "scope": report.get("scope"),
                "machine": machine,
                "tests": len(report["tests"]),
                "energy_j": float(report["session"]["energy_j"]),
                "co2_g": float(report["session"]["co2_g"]),
                "budget": copy.deepcopy(report.get("budget")),
            }
        )
    return {
        "id": uuid.uuid4().hex,
        "started_at": min(started).strftime(_TIME_FORMAT),
        "finished_at": max(finished).strftime(_TIME_FORMAT),
        "project": str(project),
        "git": {"commit": commit if commit_agree else None, "branch": branch if branch_agree else None},
        "ci": {"provider": provider if provider_agree else None},
        "exit_status": max(statuses, default=0),
        "shards": shards,
    }


def _flag_duplicates(tests: list[dict[str, Any]], warnings: list[str]) -> None:
    counts = Counter(t["nodeid"] for t in tests)
    repeated = [nodeid for nodeid, n in counts.items() if n > 1]
    if not repeated:
        return
    where: dict[str, list[str]] = {nodeid: [] for nodeid in repeated}
    for test in tests:
        if test["nodeid"] in where:
            test["duplicate"] = True
            where[test["nodeid"]].append(str(test["shard"]))
    shown = "; ".join(f"{nodeid} (shards {', '.join(where[nodeid])})" for nodeid in repeated[:5])
    more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
    warnings.append(
        f"{len(repeated)} test id(s) ran in more than one shard; each run is kept as its own entry, flagged "
        f"duplicate, and counted in the totals: {shown}{more}. Check how the suite is split."
    )


def merge_reports(reports: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Merge shard reports (schema version 1) into one report; ``names`` label the shards.

    Tests keep their own figures and gain ``shard`` and ``region`` (the shard's region code); session
    figures add up, ``duration_s`` being the sum of the shards' durations and ``wall_span_s`` the time
    from the earliest start to the latest finish. Raises ValueError, naming the shard, for input that
    is not a complete report.
    """
    if not reports:
        raise ValueError("nothing to merge: give at least one report")
    if len(names) != len(reports):
        raise ValueError(f"{len(reports)} report(s) but {len(names)} shard name(s)")
    if len(set(names)) != len(names):
        dupes = sorted(n for n, c in Counter(names).items() if c > 1)
        raise ValueError(f"shard names must differ; repeated: {', '.join(dupes)}")
    for report, name in zip(reports, names, strict=True):
        _check_shard(report, name)

    warnings: list[str] = []
    missing: list[str] = []
    regions = [_shard_region(r) for r in reports]
    started = [_parse_time(r["run"]["started_at"], "run.started_at") for r in reports]
    finished = [_parse_time(r["run"]["finished_at"], "run.finished_at") for r in reports]

    ids = Counter(r["run"].get("id") for r in reports if r["run"].get("id"))
    for run_id, count in ids.items():
        if count > 1:
            same = [n for n, r in zip(names, reports, strict=True) if r["run"].get("id") == run_id]
            warnings.append(
                f"shards {', '.join(same)} have the same run id {run_id}: the same report was given "
                f"{count} times, so its figures are counted {count} times"
            )
    scope_agree, scope = _common(r.get("scope") for r in reports)
    if not scope_agree:
        scopes = ", ".join(f"{n}: {r.get('scope')}" for n, r in zip(names, reports, strict=True))
        warnings.append(f"shards were metered in different scopes ({scopes}); their totals do not mean the same thing")

    for name, report in zip(names, reports, strict=True):
        if not report.get("complete", True):
            missing.append(f"shard {name} was cut short: its figures cover only the tests it finished")
        for line in report.get("missing") or []:
            missing.append(f"shard {name}: {line}")

    tests: list[dict[str, Any]] = []
    for name, report, region in zip(names, reports, regions, strict=True):
        for test in report["tests"]:
            entry = _entry_copy(test)
            if isinstance(entry.get("shard"), str):  # a merged report merged again keeps where each test ran
                entry["shard"] = f"{name}/{entry['shard']}"
            else:
                entry["shard"], entry["region"] = name, region.get("code")
            tests.append(entry)
    _flag_duplicates(tests, warnings)

    wall_span_s = max(0.0, (max(finished) - min(started)).total_seconds())
    session = _merged_session([r["session"] for r in reports], wall_span_s, missing)
    energies_j = [float(r["session"]["energy_j"]) for r in reports]
    merged: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-carbon", "version": __version__},
        "complete": all(bool(r.get("complete", True)) for r in reports),
        "run": _merged_run(reports, names, regions, started, finished),
        "machine": _merged_machine(reports, names),
    }
    if scope_agree and scope is not None:
        merged["scope"] = scope
    merged.update(
        {
            "region": merged_region(regions, energies_j, names),
            "session": session,
            "missing": missing,
            "warnings": warnings,
            "tests": tests,
        }
    )
    return merged


def shard_names(paths: Sequence[str]) -> list[str]:
    """Shard names from file names: the stem, made unique with -2, -3 where two files share one."""
    from pathlib import PurePath

    names: list[str] = []
    for path in paths:
        stem = PurePath(path).stem or "shard"
        name, n = stem, 1
        while name in names:
            n += 1
            name = f"{stem}-{n}"
        names.append(name)
    return names
