"""Region codes against the shipped tables: spot checks, precedence of tables, unknown codes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_carbon.config import ConfigError
from pytest_carbon.intensity import Region, RegionError, greener_than, lookup, resolve_region


def test_france_is_the_owid_2025_figure() -> None:
    region = lookup("FR")
    assert region.intensity_g_per_kwh == 41.44
    assert (region.intensity_source, region.year, region.table) == ("OWID/Ember", 2025, "countries")
    assert region.basis == "generation, lifecycle"
    assert region.pue == 1.0 and region.known


def test_alpha3_and_case_give_the_same_country() -> None:
    assert lookup("fra") == lookup("FR") == lookup(" fr ")


def test_zone_prefix_forces_the_grid_zone_table() -> None:
    zone = lookup("zone:FR")
    assert zone.table == "grid_zones"
    assert zone.code == "zone:FR"
    assert zone.intensity_source == "Electricity Maps" and zone.year == 2025
    assert zone.intensity_g_per_kwh != lookup("FR").intensity_g_per_kwh


def test_gcp_region_uses_googles_own_2024_figure() -> None:
    region = lookup("gcp:europe-west1")
    assert region.intensity_g_per_kwh == 103.37
    assert region.year == 2024
    assert region.intensity_source == "Google Cloud region carbon data"
    assert region.table == "cloud_regions"
    assert region.pue == 1.10


@pytest.mark.parametrize(
    ("code", "table", "year"),
    [
        ("US-CAL-CISO", "grid_zones", 2025),
        ("ca-qc", "grid_zones", 2025),
        ("SE-SE3", "grid_zones", 2025),
        ("aws:eu-west-1", "cloud_regions", 2025),
        ("AZURE:WestEurope", "cloud_regions", 2025),
        ("azure:west europe", "cloud_regions", 2025),
    ],
)
def test_zones_and_cloud_regions_resolve(code: str, table: str, year: int) -> None:
    region = lookup(code)
    assert region.table == table
    assert region.year == year
    assert 0 < region.intensity_g_per_kwh < 1500
    assert region.known


def test_cloud_region_figure_is_its_zones_figure() -> None:
    assert lookup("aws:eu-west-1").intensity_g_per_kwh == lookup("zone:IE").intensity_g_per_kwh
    assert lookup("azure:westeurope").intensity_g_per_kwh == lookup("zone:NL").intensity_g_per_kwh


def test_provider_pue_defaults() -> None:
    assert lookup("aws:eu-west-1").pue == 1.14
    assert lookup("azure:westeurope").pue == 1.185
    assert lookup("US-CAL-CISO").pue == 1.0
    assert lookup("aws:eu-west-1", pue=1.3).pue == 1.3


def test_to_dict_is_the_report_region_object() -> None:
    keys = {"code", "name", "source", "intensity_g_per_kwh", "intensity_source", "year", "basis"}
    keys |= {"table", "pue", "live", "known", "note"}
    assert set(lookup("FR").to_dict()) == keys


def test_unknown_code_suggests_the_closest() -> None:
    with pytest.raises(RegionError) as info:
        lookup("aws:eu-west-9")
    assert "aws:eu-west-1" in str(info.value)
    assert isinstance(info.value, ConfigError)
    with pytest.raises(RegionError, match="US-CAL-CISO"):
        lookup("US-CAL-CISX")


def test_unknown_provider_and_empty_codes_are_refused() -> None:
    for code in ("", "zone:", "ibm:us-south", "gcp:", ":"):
        with pytest.raises(RegionError):
            lookup(code)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_string_is_a_region_or_a_region_error(code: str) -> None:
    try:
        region = lookup(code)
    except RegionError as err:
        assert "unknown region" in str(err)
    else:
        assert isinstance(region, Region)
        assert region.intensity_g_per_kwh >= 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["FR", "DE", "zone:DE", "US-CAL-CISO", "aws:eu-west-1", "gcp:us-east1", "azure:eastus"]))
def test_greener_regions_are_cleaner_and_sorted(code: str) -> None:
    base = lookup(code)
    found = greener_than(code, limit=8)
    assert found, code
    for entry in found:
        assert entry["intensity_g_per_kwh"] < base.intensity_g_per_kwh
        expected = round((1 - entry["intensity_g_per_kwh"] / base.intensity_g_per_kwh) * 100, 1)
        assert entry["cut_pct"] == expected
        assert set(entry) == {"code", "name", "intensity_g_per_kwh", "cut_pct", "provider", "source", "year"}
        lookup(entry["code"])  # every suggestion is itself a valid code


def test_greener_than_puts_the_same_provider_first() -> None:
    found = greener_than("aws:us-east-1", limit=100)
    providers = [entry["provider"] for entry in found]
    first_other = next(i for i, p in enumerate(providers) if p != "aws")
    assert set(providers[:first_other]) == {"aws"}
    assert "aws" not in providers[first_other:]
    aws = [entry["intensity_g_per_kwh"] for entry in found[:first_other]]
    assert aws == sorted(aws)
    assert len(greener_than("aws:us-east-1", limit=3)) == 3


def test_explicit_region_records_where_it_came_from() -> None:
    region = resolve_region({}, code="FR", origin="ini")
    assert region.source == "ini" and region.code == "FR"


def test_explicit_unknown_region_names_the_setting() -> None:
    with pytest.raises(RegionError, match="PYTEST_CARBON_REGION=XX1"):
        resolve_region({}, code="XX1", origin="environment")


def test_explicit_pue_wins() -> None:
    region = resolve_region({}, code="gcp:europe-west1", pue=1.5)
    assert region.pue == 1.5


def test_co2_formula_with_france() -> None:
    region = lookup("FR")
    energy_j = 7200.0
    co2_g = energy_j / 3.6e6 * region.pue * region.intensity_g_per_kwh
    assert co2_g == pytest.approx(0.08288)


def test_intensity_options_parse_and_refuse() -> None:
    from pytest_carbon.config import BY_NAME, resolve

    assert resolve(BY_NAME["carbon_pue"], None, "1.2", {}).value == 1.2
    assert resolve(BY_NAME["carbon_pue"], None, None, {}).value is None
    with pytest.raises(ConfigError, match=r"carbon-pue=0\.5"):
        resolve(BY_NAME["carbon_pue"], "0.5", None, {})
    env = {"PYTEST_CARBON_CLOUD_METADATA": "off", "PYTEST_CARBON_LIVE": "UK-Carbon-Intensity"}
    assert resolve(BY_NAME["carbon_cloud_metadata"], None, None, env).value is False
    assert resolve(BY_NAME["carbon_live"], None, None, env).value == "uk-carbon-intensity"
    with pytest.raises(ConfigError, match="electricitymaps"):
        resolve(BY_NAME["carbon_live"], "watttime", None, {})
