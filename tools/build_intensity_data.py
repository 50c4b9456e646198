"""Build the committed carbon-intensity tables in ``intensity_data/`` from the raw sources.

Usage: ``python tools/build_intensity_data.py [SOURCES] [--out DIR] [--check]``

SOURCES defaults to ``../shared/sources`` relative to the repository root; see its
``PROVENANCE.md`` for where each file comes from. The output is deterministic, so a test can
rebuild the tables and compare them with the committed ones (``--check`` does the same here).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = REPO.parent / "shared" / "sources"
DEFAULT_OUT = REPO / "intensity_data"

OWID_SOURCE = "OWID/Ember"
OWID_BASIS = "generation, lifecycle"
EM_SOURCE = "Electricity Maps"
EM_BASIS = "consumption, lifecycle"
EM_YEAR = 2025
GOOGLE_SOURCE = "Google Cloud region carbon data"
GOOGLE_BASIS = "Google hourly grid figures, location-based"

#: ISO 3166-1 alpha-3 -> alpha-2 for every code in the OWID country table. OWID's own codes for
#: Kosovo and the world get the user-assigned XK and no alpha-2 code respectively.
ISO3_TO_ISO2: dict[str, str] = {
    "ABW": "AW", "AFG": "AF", "AGO": "AO", "ALB": "AL", "ARE": "AE", "ARG": "AR", "ARM": "AM",
    "ASM": "AS", "ATG": "AG", "AUS": "AU", "AUT": "AT", "AZE": "AZ", "BDI": "BI", "BEL": "BE",
    "BEN": "BJ", "BFA": "BF", "BGD": "BD", "BGR": "BG", "BHR": "BH", "BHS": "BS", "BIH": "BA",
    "BLR": "BY", "BLZ": "BZ", "BMU": "BM", "BOL": "BO", "BRA": "BR", "BRB": "BB", "BRN": "BN",
    "BTN": "BT", "BWA": "BW", "CAF": "CF", "CAN": "CA", "CHE": "CH", "CHL": "CL", "CHN": "CN",
    "CIV": "CI", "CMR": "CM", "COD": "CD", "COG": "CG", "COK": "CK", "COL": "CO", "COM": "KM",
    "CPV": "CV", "CRI": "CR", "CUB": "CU", "CYM": "KY", "CYP": "CY", "CZE": "CZ", "DEU": "DE",
    "DJI": "DJ", "DMA": "DM", "DNK": "DK", "DOM": "DO", "DZA": "DZ", "ECU": "EC", "EGY": "EG",
    "ERI": "ER", "ESH": "EH", "ESP": "ES", "EST": "EE", "ETH": "ET", "FIN": "FI", "FJI": "FJ",
    "FLK": "FK", "FRA": "FR", "FRO": "FO", "GAB": "GA", "GBR": "GB", "GEO": "GE", "GHA": "GH",
    "GIB": "GI", "GIN": "GN", "GLP": "GP", "GMB": "GM", "GNB": "GW", "GNQ": "GQ", "GRC": "GR",
    "GRD": "GD", "GRL": "GL", "GTM": "GT", "GUF": "GF", "GUM": "GU", "GUY": "GY", "HKG": "HK",
    "HND": "HN", "HRV": "HR", "HTI": "HT", "HUN": "HU", "IDN": "ID", "IND": "IN", "IRL": "IE",
    "IRN": "IR", "IRQ": "IQ", "ISL": "IS", "ISR": "IL", "ITA": "IT", "JAM": "JM", "JOR": "JO",
    "JPN": "JP", "KAZ": "KZ", "KEN": "KE", "KGZ": "KG", "KHM": "KH", "KIR": "KI", "KNA": "KN",
    "KOR": "KR", "KWT": "KW", "LAO": "LA", "LBN": "LB", "LBR": "LR", "LBY": "LY", "LCA": "LC",
    "LKA": "LK", "LSO": "LS", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MAC": "MO", "MAR": "MA",
    "MDA": "MD", "MDG": "MG", "MDV": "MV", "MEX": "MX", "MKD": "MK", "MLI": "ML", "MLT": "MT",
    "MMR": "MM", "MNE": "ME", "MNG": "MN", "MOZ": "MZ", "MRT": "MR", "MSR": "MS", "MTQ": "MQ",
    "MUS": "MU", "MWI": "MW", "MYS": "MY", "NAM": "NA", "NCL": "NC", "NER": "NE", "NGA": "NG",
    "NIC": "NI", "NLD": "NL", "NOR": "NO", "NPL": "NP", "NRU": "NR", "NZL": "NZ", "OMN": "OM",
    "OWID_KOS": "XK", "OWID_WRL": "", "PAK": "PK", "PAN": "PA", "PER": "PE", "PHL": "PH",
    "PNG": "PG", "POL": "PL", "PRI": "PR", "PRK": "KP", "PRT": "PT", "PRY": "PY", "PSE": "PS",
    "PYF": "PF", "QAT": "QA", "REU": "RE", "ROU": "RO", "RUS": "RU", "RWA": "RW", "SAU": "SA",
    "SDN": "SD", "SEN": "SN", "SGP": "SG", "SHN": "SH", "SLB": "SB", "SLE": "SL", "SLV": "SV",
    "SOM": "SO", "SPM": "PM", "SRB": "RS", "SSD": "SS", "STP": "ST", "SUR": "SR", "SVK": "SK",
    "SVN": "SI", "SWE": "SE", "SWZ": "SZ", "SYC": "SC", "SYR": "SY", "TCA": "TC", "TCD": "TD",
    "TGO": "TG", "THA": "TH", "TJK": "TJ", "TKM": "TM", "TLS": "TL", "TON": "TO", "TTO": "TT",
    "TUN": "TN", "TUR": "TR", "TWN": "TW", "TZA": "TZ", "UGA": "UG", "UKR": "UA", "URY": "UY",
    "USA": "US", "UZB": "UZ", "VCT": "VC", "VEN": "VE", "VGB": "VG", "VIR": "VI", "VNM": "VN",
    "VUT": "VU", "WSM": "WS", "YEM": "YE", "ZAF": "ZA", "ZMB": "ZM", "ZWE": "ZW",
}  # fmt: skip

#: Published fleet-wide PUE per provider (see PROVENANCE.md, "data-centre overhead").
PROVIDERS: list[dict[str, str]] = [
    {"provider": "aws", "name": "Amazon Web Services", "pue": "1.14", "pue_year": "2025",
     "pue_source": "Amazon sustainability report"},
    {"provider": "azure", "name": "Microsoft Azure", "pue": "1.185", "pue_year": "",
     "pue_source": "Microsoft, fleet-wide trailing twelve months, as quoted by Cloud Carbon Footprint"},
    {"provider": "gcp", "name": "Google Cloud", "pue": "1.10", "pue_year": "",
     "pue_source": "Google data-centre efficiency page, fleet-wide trailing twelve months"},
]  # fmt: skip

#: Cloud regions that the newer location list lacks but that exist, with their place and zone
#: (zone as Cloud Carbon Footprint maps it; the China regions have no zone in either list).
EXTRA_REGIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("aws", "cn-north-1"): ("Beijing", "", "CN"),
    ("aws", "cn-northwest-1"): ("Ningxia", "", "CN"),
    ("aws", "us-gov-east-1"): ("GovCloud (US-East)", "US-MIDA-PJM", "US"),
    ("aws", "us-gov-west-1"): ("GovCloud (US-West)", "US-NW-PACW", "US"),
}

CLOUD_PROVIDERS = ("aws", "azure", "gcp")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> str:
    """A figure as the shortest exact decimal text (2 decimals at most)."""
    value = round(float(text), 2)
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _csv(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key, "") for key in header})
    return out.getvalue()


def build_countries(sources: Path) -> list[dict[str, str]]:
    """One row per country (latest year), plus the world row, sorted by alpha-3 code."""
    rows = []
    for row in _read(sources / "country_intensity_owid.csv"):
        iso3 = row["iso3"]
        if iso3 not in ISO3_TO_ISO2:
            raise SystemExit(f"no alpha-2 code for {iso3} ({row['country']}); add it to ISO3_TO_ISO2")
        rows.append(
            {
                "iso2": ISO3_TO_ISO2[iso3],
                "iso3": iso3,
                "name": row["country"],
                "g_per_kwh": _number(row["g_per_kwh"]),
                "year": row["year"],
                "source": OWID_SOURCE,
                "basis": OWID_BASIS,
            }
        )
    return sorted(rows, key=lambda r: r["iso3"])


def build_zones(sources: Path) -> list[dict[str, str]]:
    """One row per Electricity Maps grid zone (yearly average)."""
    rows = []
    for row in _read(sources / "grid_zones_electricitymaps_2025.csv"):
        rows.append(
            {
                "zone": row["zone"],
                "name": row["zone_name"],
                "country_name": row["country_name"],
                "g_per_kwh": _number(row["g_per_kwh_lifecycle"]),
                "renewable_pct": row["renewable_pct"],
                "carbon_free_pct": row["carbon_free_pct"],
                "year": row["year"],
                "source": EM_SOURCE,
                "basis": EM_BASIS,
            }
        )
    return sorted(rows, key=lambda r: r["zone"])


def build_cloud_regions(
    sources: Path, countries: list[dict[str, str]], zones: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[str]]:
    """Cloud regions with place, zone and intensity; also the disagreements found on the way."""
    warnings: list[str] = []
    by_zone = {z["zone"]: z for z in zones}
    by_iso2 = {c["iso2"]: c for c in countries if c["iso2"]}
    places: dict[tuple[str, str], tuple[str, str]] = {}
    for row in _read(sources / "cloud_regions_locations.csv"):
        if row["provider"] in CLOUD_PROVIDERS and row["status"] == "operational":
            places[(row["provider"], row["region"].lower())] = (row["display_name"], row["zone"])
    ccf_zone = {
        (row["provider"], row["region"].lower()): row["electricitymaps_zone"]
        for row in _read(sources / "cloud_regions_ccf.csv")
    }
    google: dict[str, dict[str, str]] = {}
    for row in _read(sources / "gcp_regions_google.csv"):
        old = google.get(row["gcp_region"])
        if row["grid_g_per_kwh"] and (old is None or int(row["year"]) > int(old["year"])):
            google[row["gcp_region"]] = row
    keys = set(places) | set(EXTRA_REGIONS) | {("gcp", name) for name in google}
    rows = []
    for provider, region in sorted(keys):
        if (provider, region) in EXTRA_REGIONS:
            location, zone, country = EXTRA_REGIONS[(provider, region)]
        else:
            location, zone = places.get((provider, region), ("", ""))
            zone = zone or ccf_zone.get((provider, region), "")
            country = zone.split("-")[0] if zone else ""
        other = ccf_zone.get((provider, region))
        if other and zone and other != zone:
            warnings.append(f"{provider}:{region}: zone {zone} (location list) but {other} (CCF)")
        row = {"provider": provider, "region": region, "location": location, "zone": zone, "country": country}
        if provider == "gcp" and region in google:
            g = google[region]
            row["location"] = row["location"] or g["location"]
            row.update(g_per_kwh=_number(g["grid_g_per_kwh"]), year=g["year"], source=GOOGLE_SOURCE)
            row.update(basis=GOOGLE_BASIS, figure_from="google")
        elif zone in by_zone:
            z = by_zone[zone]
            row.update(g_per_kwh=z["g_per_kwh"], year=z["year"], source=EM_SOURCE, basis=EM_BASIS)
            row["figure_from"] = "grid_zones"
        elif country in by_iso2:
            c = by_iso2[country]
            row.update(g_per_kwh=c["g_per_kwh"], year=c["year"], source=OWID_SOURCE, basis=OWID_BASIS)
            row["figure_from"] = "countries"
            warnings.append(f"{provider}:{region}: zone {zone or '(none)'} has no figure; country {country} used")
        else:
            warnings.append(f"{provider}:{region}: no zone or country figure; left out")
            continue
        rows.append(row)
    return rows, warnings


COUNTRY_HEADER = ["iso2", "iso3", "name", "g_per_kwh", "year", "source", "basis"]
ZONE_HEADER = [
    "zone", "name", "country_name", "g_per_kwh", "renewable_pct", "carbon_free_pct", "year", "source", "basis",
]  # fmt: skip
CLOUD_HEADER = [
    "provider", "region", "location", "zone", "country", "g_per_kwh", "year", "source", "basis", "figure_from",
]  # fmt: skip
PROVIDER_HEADER = ["provider", "name", "pue", "pue_year", "pue_source"]

NOTICE = """\
Carbon-intensity tables shipped with pytest-carbon
====================================================

countries.csv
  Lifecycle grid carbon intensity of electricity generated (gCO2e/kWh), latest year per
  country, and the world average (OWID_WRL). Source: Our World in Data energy dataset,
  column carbon_intensity_elec, based on Ember and the Energy Institute Statistical Review
  of World Energy (2026 release). Licence: CC BY 4.0. Attribution: Our World in Data and Ember.

grid_zones_electricitymaps.csv
  Yearly average lifecycle carbon intensity of electricity consumed (imports included),
  2025, per grid zone. Source: Electricity Maps (https://www.electricitymaps.com).
  This table is a derived database of Electricity Maps data and is made available under the
  Open Database License (ODbL) 1.0; see grid_zones_electricitymaps.NOTICE.

cloud_regions.csv
  AWS, Azure and Google Cloud regions with their location and grid zone. Zone mapping
  cross-checked against Cloud Carbon Footprint (Apache-2.0) and the Electricity Maps
  data-centre list (facts only). Intensity per row, named in its source column:
  - Google Cloud regions: Google's own hourly grid figures (Google Cloud region carbon data,
    GoogleCloudPlatform/region-carbon-info, Apache-2.0), latest year published per region.
  - other regions: the Electricity Maps 2025 figure of the region's zone (rows derived from
    Electricity Maps data are under the ODbL 1.0 like grid_zones_electricitymaps.csv), or,
    where the zone has no figure, the OWID/Ember country figure (CC BY 4.0).

providers.csv
  Fleet-wide power usage effectiveness (PUE) published by each provider: Amazon
  sustainability report (AWS, 1.14 for 2025); Google data-centre efficiency page (about 1.10);
  Microsoft (Azure, 1.185, as quoted by Cloud Carbon Footprint).

Bases differ: OWID/Ember figures are per kWh generated, Electricity Maps figures per kWh
consumed, Google's are its own hourly-matched grid figures. Every row names its source,
year and basis.
"""

EM_NOTICE = """\
grid_zones_electricitymaps.csv contains information from Electricity Maps
(https://www.electricitymaps.com), yearly grid carbon intensity data for 2025, which is made
available under the Open Database License (ODbL) 1.0:
https://opendatacommons.org/licenses/odbl/1-0/

Any rights in individual contents of the database are licensed under the Database Contents
License: https://opendatacommons.org/licenses/dbcl/1-0/

This file is a derived database: the zone code, name, country, lifecycle gCO2e/kWh and
renewable and carbon-free shares were kept, values rounded to 2 decimals. The rows of
cloud_regions.csv whose source is "Electricity Maps" are derived from the same data and are
under the same licence.
"""


def build(sources: Path) -> tuple[dict[str, str], list[str]]:
    """All output files as name -> text, and warnings about the sources."""
    countries = build_countries(sources)
    zones = build_zones(sources)
    clouds, warnings = build_cloud_regions(sources, countries, zones)
    files = {
        "countries.csv": _csv(COUNTRY_HEADER, countries),
        "grid_zones_electricitymaps.csv": _csv(ZONE_HEADER, zones),
        "cloud_regions.csv": _csv(CLOUD_HEADER, clouds),
        "providers.csv": _csv(PROVIDER_HEADER, PROVIDERS),
        "NOTICE": NOTICE,
        "grid_zones_electricitymaps.NOTICE": EM_NOTICE,
    }
    return files, warnings


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check compare) the tables; exit 1 when --check finds a difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sources", nargs="?", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare with the committed tables")
    args = parser.parse_args(argv)
    if not (args.sources / "PROVENANCE.md").is_file():
        print(f"no sources folder at {args.sources} (PROVENANCE.md missing)", file=sys.stderr)
        return 2
    files, warnings = build(args.sources)
    for line in warnings:
        print("note:", line, file=sys.stderr)
    stale = []
    for name, text in files.items():
        target = args.out / name
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            stale.append(name)
            if not args.check:
                target.write_text(text, encoding="utf-8")
    if args.check:
        print("up to date" if not stale else "stale: " + ", ".join(stale))
        return 1 if stale else 0
    print(f"wrote {len(stale)} of {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
