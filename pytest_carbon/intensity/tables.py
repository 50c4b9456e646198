"""The shipped intensity tables: loaded on first use, parsed with the stdlib, cached."""

from __future__ import annotations

import csv
import importlib
import io
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import NamedTuple

COUNTRIES = "countries.csv"
GRID_ZONES = "grid_zones_electricitymaps.csv"
CLOUD_REGIONS = "cloud_regions.csv"
PROVIDERS = "providers.csv"

CLOUD_PROVIDERS = ("aws", "azure", "gcp")


class Row(NamedTuple):
    """One figure of one table: what it covers and where the number comes from."""

    table: str  # "countries" | "grid_zones" | "cloud_regions" | "world"
    code: str  # the canonical code users type: "FR", "zone:FR", "US-CAL-CISO", "aws:eu-west-1"
    name: str
    g_per_kwh: float
    year: int
    source: str
    basis: str
    provider: str | None = None
    zone: str | None = None  # the grid zone, for live look-ups
    country: str | None = None  # ISO alpha-2


class Provider(NamedTuple):
    """A cloud provider and its published fleet PUE."""

    code: str
    name: str
    pue: float
    pue_year: int | None
    pue_source: str


def read_table(name: str) -> list[dict[str, str]]:
    """The rows of one shipped CSV file as dicts."""
    text = _read_text(name)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return [dict(zip(header, line, strict=True)) for line in reader]


def _read_text(name: str) -> str:
    # An installed package has its data folder beside this one: read it straight from there, without
    # importing anything (importlib.resources costs ~10 ms to import and ~3 ms on its first call, and
    # the data package itself one more module through pytest's import hook).
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    beside = os.path.join(here, "intensity_data", name)
    if os.path.isfile(beside):
        with open(beside, encoding="utf-8") as fh:
            return fh.read()
    # a source checkout (the data folder sits outside the package), or a zipped install
    package = importlib.import_module("pytest_carbon.intensity_data")
    location = getattr(package, "__file__", None)
    if location and Path(location).parent.joinpath(name).is_file():
        return Path(location).parent.joinpath(name).read_text(encoding="utf-8")
    from importlib.resources import files

    return files("pytest_carbon.intensity_data").joinpath(name).read_text(encoding="utf-8")


def _country(r: Mapping[str, str]) -> Row:
    iso2 = r["iso2"] or "WORLD"
    return Row(
        table="countries" if r["iso2"] else "world",
        code=iso2,
        name=r["name"],
        g_per_kwh=float(r["g_per_kwh"]),
        year=int(r["year"]),
        source=r["source"],
        basis=r["basis"],
        zone=r["iso2"] or None,
        country=r["iso2"] or None,
    )


@cache
def _countries_table() -> tuple[dict[str, Row], dict[str, str]]:
    # both views of the countries file from one read and one parse
    by_iso2: dict[str, Row] = {}
    iso3: dict[str, str] = {}
    for r in read_table(COUNTRIES):
        row = _country(r)
        iso3[r["iso3"]] = row.code
        by_iso2[row.code] = row
    return by_iso2, iso3


@cache
def country(iso2: str) -> Row | None:
    """``countries().get(iso2)``, reading only the code's own line while the table is not parsed yet.

    A session with a given country (``--carbon-region=FR``) needs that one row: finding its line
    takes microseconds, parsing the table a millisecond. The file's first column is the alpha-2
    code and no field holds a line break, so a line starting with the code is its row.
    """
    if _countries_table.cache_info().currsize or iso2 in ("", "WORLD") or any(c in iso2 for c in ',"\r\n'):
        return countries().get(iso2)
    text = _read_text(COUNTRIES)
    header = next(csv.reader([text[: text.find("\n")]]))
    if header[:1] != ["iso2"]:
        return countries().get(iso2)
    at = text.rfind("\n" + iso2 + ",")  # the last row of a code wins, as in the dict
    if at < 0:
        return None
    end = text.find("\n", at + 1)
    line = text[at + 1 :] if end < 0 else text[at + 1 : end]
    return _country(dict(zip(header, next(csv.reader([line])), strict=True)))


def countries() -> dict[str, Row]:
    """Countries keyed by upper-case alpha-2 code (the world row under ``WORLD``)."""
    return _countries_table()[0]


def iso3_to_iso2() -> dict[str, str]:
    """Alpha-3 (upper case) -> alpha-2, for the countries the table covers."""
    return _countries_table()[1]


@cache
def grid_zones() -> dict[str, Row]:
    """Electricity Maps grid zones keyed by upper-case zone code."""
    out: dict[str, Row] = {}
    for r in read_table(GRID_ZONES):
        zone = r["zone"]
        name = r["name"] if not r["country_name"] else f"{r['name']} ({r['country_name']})"
        out[zone.upper()] = Row(
            table="grid_zones",
            code=zone,
            name=name,
            g_per_kwh=float(r["g_per_kwh"]),
            year=int(r["year"]),
            source=r["source"],
            basis=r["basis"],
            zone=zone,
            country=zone.split("-")[0],
        )
    return out


@cache
def cloud_regions() -> dict[str, Row]:
    """Cloud regions keyed by ``provider:region`` in lower case."""
    names = {p.code: p.name for p in providers().values()}
    out: dict[str, Row] = {}
    for r in read_table(CLOUD_REGIONS):
        code = f"{r['provider']}:{r['region']}"
        where = f" ({r['location']})" if r["location"] else ""
        out[code.lower()] = Row(
            table="cloud_regions",
            code=code,
            name=f"{names.get(r['provider'], r['provider'])} {r['region']}{where}",
            g_per_kwh=float(r["g_per_kwh"]),
            year=int(r["year"]),
            source=r["source"],
            basis=r["basis"],
            provider=r["provider"],
            zone=r["zone"] or None,
            country=r["country"] or None,
        )
    return out


@cache
def providers() -> dict[str, Provider]:
    """Cloud providers keyed by their short code (aws, azure, gcp)."""
    return {
        r["provider"]: Provider(
            code=r["provider"],
            name=r["name"],
            pue=float(r["pue"]),
            pue_year=int(r["pue_year"]) if r["pue_year"] else None,
            pue_source=r["pue_source"],
        )
        for r in read_table(PROVIDERS)
    }


@cache
def all_codes() -> tuple[str, ...]:
    """Every code a user can type, in canonical spelling (for suggestions and listings)."""
    codes = [row.code for row in countries().values() if row.table == "countries"]
    codes += sorted(iso3_to_iso2())
    codes += [row.code if row.code.upper() not in countries() else "zone:" + row.code for row in grid_zones().values()]
    codes += [row.code for row in cloud_regions().values()]
    return tuple(codes)
