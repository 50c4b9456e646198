"""Advice a team can follow: cloud regions (AWS, Azure, GCP) that would have emitted less for this run.

A team chooses where its CI runs by choosing a cloud region or a runner's location, never a
country's grid, so the advice names cloud regions only, whatever the run's own region is (a country,
a grid zone, a cloud region, or unknown and so the world average).

The rule, the same for the reports (``report["advice"]``, computed once when the report is built)
and for ``pytest-carbon regions --greener-than``:

* none where the run's region is unknown (its figure is the world average: where it ran, and so what a
  move would save, is not known);
* candidates: the regions of the providers considered (``--carbon-advice-providers``, all three by
  default) whose intensity is below the run's;
* a figure of 0 g/kWh, or one more than a year older than the run's figure, is left out: it is more
  likely a gap in the data than a clean grid;
* the runner's provider first where it is known (the run's region is one of its regions) or set (one
  provider only): its cleanest regions, then the others' if it has fewer than three cleaner ones;
* within a provider's group, the lowest intensity first (ties: code);
* the three best are kept, each with its provider, code, name, intensity, year and source, and,
  given the run's energy, the CO2e the run would have emitted there (the run's PUE kept) and the
  saving in grams and per cent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_carbon.units import J_PER_KWH

PROVIDERS: tuple[str, ...] = ("aws", "azure", "gcp")
#: how a provider is written for people
PROVIDER_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}
#: how many regions the advice names
BEST = 3


def parse_providers(text: str) -> tuple[str, ...]:
    """``aws,gcp`` -> ("aws", "gcp"); empty or ``all``: every provider. ValueError for an unknown name."""
    value = text.strip().lower()
    if value in ("", "all"):
        return PROVIDERS
    names = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown or not names:
        raise ValueError(
            f"expected providers among {', '.join(PROVIDERS)}, comma-separated (for example aws,gcp), or all"
        )
    return names


def _provider_of(region: Mapping[str, Any]) -> str | None:
    code = str(region.get("code") or "")
    if region.get("table") == "cloud_regions" and ":" in code:
        return code.split(":", 1)[0]
    return None


def advise(
    region: Mapping[str, Any],
    energy_j: float | None = None,
    *,
    providers: Sequence[str] = PROVIDERS,
    limit: int = BEST,
) -> dict[str, Any]:
    """The advice for a run in ``region`` (a report's region dict) that drew ``energy_j``."""
    from pytest_carbon.intensity import tables

    base_g = float(region.get("intensity_g_per_kwh") or 0.0)
    base_year = region.get("year")
    chosen = tuple(p for p in PROVIDERS if p in providers)
    runner = _provider_of(region)
    first = runner if runner in chosen else (chosen[0] if len(chosen) == 1 else None)
    pue = float(region.get("pue") or 1.0)
    here_g = energy_j / J_PER_KWH * pue * base_g if energy_j is not None else None

    def plausible(row: tables.Row) -> bool:
        if row.g_per_kwh <= 0.0:
            return False
        return not (isinstance(base_year, int) and row.year < base_year - 1)

    known = bool(region.get("known", True)) and bool(region.get("code"))
    rows = [
        r
        for r in (tables.cloud_regions().values() if known else ())
        if r.provider in chosen and r.g_per_kwh < base_g and plausible(r) and r.code != region.get("code")
    ]
    rows.sort(key=lambda r: (r.provider != first if first else False, r.g_per_kwh, r.code))
    best = []
    for row in rows[: max(limit, 0)]:
        entry: dict[str, Any] = {
            "provider": row.provider,
            "code": row.code,
            "name": row.name,
            "intensity_g_per_kwh": row.g_per_kwh,
            "year": row.year,
            "source": row.source,
            "cut_pct": round((1.0 - row.g_per_kwh / base_g) * 100.0, 1) if base_g > 0 else 0.0,
        }
        if energy_j is not None and here_g is not None:
            there_g = energy_j / J_PER_KWH * pue * row.g_per_kwh
            entry.update(co2_g=there_g, saving_g=here_g - there_g)
        best.append(entry)
    return {
        "basis": {
            "code": region.get("code"),
            "intensity_g_per_kwh": base_g,
            "year": base_year,
            "source": region.get("intensity_source"),
            "known": known,
        },
        "providers": list(chosen),
        "provider_first": first,
        "co2_g": here_g,
        "regions": best,
    }


def advice_of(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """The report's advice; computed here for a report written before reports held it (None: no region)."""
    found = report.get("advice")
    if isinstance(found, Mapping):
        return dict(found)
    region = report.get("region") or {}
    if not region or region.get("source") == "merged" or region.get("intensity_g_per_kwh") is None:
        return None
    try:
        return advise(region, float((report.get("session") or {}).get("energy_j") or 0.0))
    except Exception:  # advice is a courtesy: a report is never refused for it
        return None
