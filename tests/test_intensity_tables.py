"""The committed tables: rebuilt from the sources they equal what is committed; every row is labelled."""

from __future__ import annotations

import csv
import importlib.util
import io
import os
from pathlib import Path
from types import ModuleType

import pytest

from pytest_carbon.intensity import tables

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO.parent / "shared" / "sources"
DATA = REPO / "intensity_data"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_intensity_data", REPO / "tools" / "build_intensity_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_tables_are_what_the_tool_builds() -> None:
    if not (SOURCES / "PROVENANCE.md").is_file():
        if os.environ.get("PYTEST_CARBON_REQUIRE_SOURCES") == "1":
            pytest.fail(f"PYTEST_CARBON_REQUIRE_SOURCES=1 but there is no sources folder at {SOURCES}")
        pytest.skip(f"no sources folder at {SOURCES}; the committed tables cannot be rebuilt here")
    built, _warnings = _tool().build(SOURCES)
    for name, text in built.items():
        assert (DATA / name).read_text(encoding="utf-8") == text, f"{name} is stale: run tools/build_intensity_data.py"


@pytest.mark.parametrize("name", [tables.COUNTRIES, tables.GRID_ZONES, tables.CLOUD_REGIONS])
def test_every_row_has_source_year_and_basis(name: str) -> None:
    rows = list(csv.DictReader(io.StringIO((DATA / name).read_text(encoding="utf-8"))))
    assert rows
    for row in rows:
        assert row["source"], row
        assert row["basis"], row
        assert 2000 <= int(row["year"]) <= 2026, row
        assert 0.0 <= float(row["g_per_kwh"]) < 2000.0, row


def test_country_table_has_alpha2_and_alpha3_and_the_world() -> None:
    rows = list(csv.DictReader(io.StringIO((DATA / tables.COUNTRIES).read_text(encoding="utf-8"))))
    world = [r for r in rows if r["iso3"] == "OWID_WRL"]
    assert len(world) == 1 and float(world[0]["g_per_kwh"]) == 458.29 and world[0]["year"] == "2025"
    codes2 = [r["iso2"] for r in rows if r["iso3"] != "OWID_WRL"]
    assert all(len(c) == 2 and c.isupper() for c in codes2)
    assert len(set(codes2)) == len(codes2)
    assert len(rows) == 215


def test_cloud_table_covers_three_providers_with_zones() -> None:
    clouds = tables.cloud_regions()
    providers = {row.provider for row in clouds.values()}
    assert providers == {"aws", "azure", "gcp"}
    for row in clouds.values():
        if row.source == "Electricity Maps":
            assert row.zone is not None and row.g_per_kwh == tables.grid_zones()[row.zone.upper()].g_per_kwh
    google = [row for row in clouds.values() if row.source == "Google Cloud region carbon data"]
    assert len(google) >= 44


def test_provider_pue_table() -> None:
    pue = {code: p.pue for code, p in tables.providers().items()}
    assert pue == {"aws": 1.14, "azure": 1.185, "gcp": 1.10}


def test_notices_name_the_licences() -> None:
    notice = (DATA / "NOTICE").read_text(encoding="utf-8")
    for words in ("CC BY 4.0", "Our World in Data", "Ember", "Electricity Maps", "ODbL", "Apache-2.0"):
        assert words in notice
    assert "Open Database License" in (DATA / "grid_zones_electricitymaps.NOTICE").read_text(encoding="utf-8")


def test_one_country_is_read_without_parsing_the_table() -> None:
    tables._countries_table.cache_clear()
    tables.country.cache_clear()
    try:
        fr = tables.country("FR")
        assert tables.country("XX") is None
        assert tables._countries_table.cache_info().currsize == 0  # no full parse so far
    finally:
        tables.country.cache_clear()
    parsed = tables.countries()
    assert fr == parsed["FR"]
    # every code read alone is the parsed table's row; the file has no line break inside a field
    tables._countries_table.cache_clear()
    try:
        alone = {code: tables.country(code) for code in parsed if code != "WORLD"}
    finally:
        tables.country.cache_clear()
    assert alone == {code: row for code, row in parsed.items() if code != "WORLD"}
    assert tables.country("WORLD") == parsed["WORLD"]
    text = (DATA / tables.COUNTRIES).read_text(encoding="utf-8")
    assert len(text.splitlines()) == len(tables.read_table(tables.COUNTRIES)) + 1
