"""Region codes: what a user can type, the figure it stands for, and cleaner alternatives."""

from __future__ import annotations

from typing import Any, NamedTuple

from pytest_carbon.errors import RegionError as RegionError
from pytest_carbon.intensity import tables
from pytest_carbon.intensity.tables import Row

#: How to set the region, quoted in every "unknown region" note.
HOW_TO_SET = (
    "set it with --carbon-region=CODE, carbon_region = CODE in the ini file, or PYTEST_CARBON_REGION=CODE "
    "(`pytest-carbon regions` lists the codes)"
)


class Region(NamedTuple):
    """Where the tests ran and the grid intensity used for it; ``to_dict`` is the report's region.

    A named tuple rather than a dataclass: immutable and comparable, and far cheaper to create at
    import, which every metered session pays.
    """

    code: str | None
    name: str
    source: str  # how the region was chosen: "command line", "ini", "environment", "cloud:aws env AWS_REGION", ...
    intensity_g_per_kwh: float
    intensity_source: str
    year: int | None
    basis: str
    table: str  # "countries" | "grid_zones" | "cloud_regions" | "world"
    pue: float = 1.0
    live: bool = False
    known: bool = True
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report's ``region`` object."""
        return self._asdict()

    def with_note(self, note: str | None) -> Region:
        """The same region with ``note`` appended to any note it has."""
        if not note:
            return self
        return self._replace(note=f"{self.note} {note}" if self.note else note)

    @property
    def provider(self) -> str | None:
        """The cloud provider for a cloud region, else None."""
        if self.table == "cloud_regions" and self.code and ":" in self.code:
            return self.code.split(":", 1)[0]
        return None


def _normalise(code: str) -> str:
    text = code.strip()
    if ":" in text:
        prefix, rest = text.split(":", 1)
        prefix = prefix.strip().lower()
        rest = rest.strip()
        if prefix == "azure":
            rest = rest.replace(" ", "")
        return f"{prefix}:{rest.lower()}"
    return text.upper()


def find_row(code: str) -> Row:
    """The table row for a code; RegionError with suggestions when there is none."""
    key = _normalise(code)
    if ":" in key:
        prefix, rest = key.split(":", 1)
        if prefix == "zone":
            row = tables.grid_zones().get(rest.upper())
            if row is not None:
                return row._replace(code="zone:" + row.code if row.code.upper() in tables.countries() else row.code)
        elif prefix in tables.CLOUD_PROVIDERS:
            found = tables.cloud_regions().get(key)
            if found is not None:
                return found
    else:
        row = tables.country(key) if key != "WORLD" else None
        if row is not None:
            return row
        by_iso2 = tables.countries()
        iso2 = tables.iso3_to_iso2().get(key)
        if iso2 is not None:
            return by_iso2[iso2]
        if key in ("WORLD", "OWID_WRL"):
            return by_iso2["WORLD"]
        zone = tables.grid_zones().get(key)
        if zone is not None:
            return zone
    raise RegionError(_unknown_message(code))


def _unknown_message(code: str) -> str:
    import difflib  # only on the error path

    shown = code.strip() or "(empty)"
    codes = tables.all_codes()
    folded = {c.lower(): c for c in codes}
    close = difflib.get_close_matches(_normalise(code).lower(), list(folded), n=5, cutoff=0.6)
    hint = f"; closest known codes: {', '.join(folded[c] for c in close)}" if close else ""
    return (
        f"pytest-carbon: unknown region {shown!r}{hint}. Use a country (FR, FRA), a grid zone "
        "(US-CAL-CISO, zone:DE) or a cloud region (aws:eu-west-1, gcp:europe-west1, azure:westeurope); "
        "`pytest-carbon regions QUERY` searches them."
    )


def default_pue(row: Row) -> float:
    """The provider's published fleet PUE for a cloud region, 1.0 elsewhere."""
    if row.provider is not None:
        provider = tables.providers().get(row.provider)
        if provider is not None:
            return provider.pue
    return 1.0


def region_from_row(row: Row, source: str, pue: float | None = None) -> Region:
    """A Region for one table row, chosen by ``source``."""
    return Region(
        code=None if row.table == "world" else row.code,
        name=row.name,
        source=source,
        intensity_g_per_kwh=row.g_per_kwh,
        intensity_source=row.source,
        year=row.year,
        basis=row.basis,
        table=row.table,
        pue=default_pue(row) if pue is None else pue,
        known=row.table != "world",
    )


def lookup(code: str, source: str = "lookup", pue: float | None = None) -> Region:
    """The Region for one code; RegionError (a ConfigError) listing close codes when unknown."""
    return region_from_row(find_row(code), source, pue)


def unknown_region(pue: float | None = None, reason: str | None = None) -> Region:
    """The world average, marked unknown, with a note saying how to set the region."""
    world = tables.countries()["WORLD"]
    note = (
        f"The region is unknown, so the world average ({world.g_per_kwh:g} g/kWh, {world.source} {world.year}) "
        f"is used; {HOW_TO_SET}."
    )
    if reason:
        note = f"{note} ({reason})"
    return region_from_row(world, "unknown", pue)._replace(known=False, note=note)


def zone_of(region: Region) -> str | None:
    """The grid zone behind a known region (for live look-ups), or None."""
    if not region.known or region.code is None:
        return None
    return find_row(region.code).zone


def country_of(region: Region) -> str | None:
    """The ISO alpha-2 country of a known region, or None."""
    if not region.known or region.code is None:
        return None
    return find_row(region.code).country


def _entry(row: Row, base_g_per_kwh: float) -> dict[str, Any]:
    cut = (1.0 - row.g_per_kwh / base_g_per_kwh) * 100.0 if base_g_per_kwh > 0 else 0.0
    return {
        "code": row.code,
        "name": row.name,
        "intensity_g_per_kwh": row.g_per_kwh,
        "cut_pct": round(cut, 1),
        "provider": row.provider,
        "source": row.source,
        "year": row.year,
    }


def greener_than(code: str, limit: int = 5) -> list[dict[str, Any]]:
    """Regions with a lower intensity than ``code``, cleanest first; a cloud region's own provider first."""
    base = find_row(code)
    if base.table == "cloud_regions":
        rows = list(tables.cloud_regions().values())
        same = [r for r in rows if r.provider == base.provider]
        others = [r for r in rows if r.provider != base.provider]
        groups = [same, others]
    elif base.table == "grid_zones":
        groups = [list(tables.grid_zones().values())]
    else:
        groups = [[r for r in tables.countries().values() if r.table == "countries"]]
    found: list[dict[str, Any]] = []
    for group in groups:
        cleaner = sorted((r for r in group if r.g_per_kwh < base.g_per_kwh), key=lambda r: (r.g_per_kwh, r.code))
        found += [_entry(r if r.table != "grid_zones" else _zone_code(r), base.g_per_kwh) for r in cleaner]
    return found[: max(limit, 0)]


def _zone_code(row: Row) -> Row:
    if row.code.upper() in tables.countries():
        return row._replace(code="zone:" + row.code)
    return row


def search(query: str = "") -> list[Row]:
    """Rows whose code or name contains ``query`` (case-insensitive); all rows for an empty query."""
    rows = [r for r in tables.countries().values() if r.table == "countries"]
    rows += [_zone_code(r) for r in tables.grid_zones().values()]
    rows += list(tables.cloud_regions().values())
    needle = query.strip().lower()
    if not needle:
        return rows
    return [r for r in rows if needle in r.code.lower() or needle in r.name.lower()]
