"""Advice a team can follow: cloud regions only, the runner's provider first, the same rule everywhere."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from reportdata import AWS_IE, FR, make_report

from pytest_carbon.advice import advise, parse_providers
from pytest_carbon.cli import main
from pytest_carbon.reports.html import render_html
from pytest_carbon.reports.markdown import recommendation

TABLE = Path(__file__).resolve().parent.parent / "intensity_data" / "cloud_regions.csv"


def _expected(base_g: float, base_year: int, providers: tuple[str, ...], first: str | None) -> list[str]:
    """The rule, from the shipped CSV read with the csv module: what advise() must name."""
    with open(TABLE, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["provider"] in providers]
    keep = [r for r in rows if 0 < float(r["g_per_kwh"]) < base_g and int(r["year"]) >= base_year - 1]
    keep.sort(
        key=lambda r: (
            first is not None and r["provider"] != first,
            float(r["g_per_kwh"]),
            r["provider"] + ":" + r["region"],
        )
    )
    return [r["provider"] + ":" + r["region"] for r in keep[:3]]


@pytest.mark.parametrize(
    ("region", "first"),
    [
        (FR, None),
        (AWS_IE, "aws"),
        (dict(AWS_IE, code="azure:westeurope", name="Azure West Europe", intensity_g_per_kwh=300.0), "azure"),
        (dict(FR, code="zone:DE", name="Germany", table="grid_zones", intensity_g_per_kwh=380.0), None),
    ],
)
def test_advice_names_cloud_regions_by_the_rule(region: dict[str, object], first: str | None) -> None:
    advice = advise(region, 3600.0)
    codes = [r["code"] for r in advice["regions"]]
    assert codes == _expected(
        float(str(region["intensity_g_per_kwh"])), int(str(region["year"])), ("aws", "azure", "gcp"), first
    )
    assert len(codes) == 3
    assert all(code.split(":")[0] in ("aws", "azure", "gcp") for code in codes)  # never a country's grid
    assert advice["provider_first"] == first
    for entry in advice["regions"]:
        assert {"provider", "code", "name", "intensity_g_per_kwh", "year", "source"} <= set(entry)
        here = 3600.0 / 3.6e6 * float(str(region["pue"])) * float(str(region["intensity_g_per_kwh"]))
        there = 3600.0 / 3.6e6 * float(str(region["pue"])) * entry["intensity_g_per_kwh"]
        assert entry["co2_g"] == pytest.approx(there)
        assert entry["saving_g"] == pytest.approx(here - there)
        assert entry["cut_pct"] == pytest.approx((1 - there / here) * 100, abs=0.05)


def test_the_runners_provider_comes_first() -> None:
    codes = [r["code"] for r in advise(AWS_IE, 1.0)["regions"]]
    assert all(code.startswith("aws:") for code in codes)


def test_one_provider_set_is_the_only_one() -> None:
    advice = advise(FR, 1.0, providers=("azure",))
    assert advice["provider_first"] == "azure"
    assert [r["code"] for r in advice["regions"]] == _expected(41.44, 2025, ("azure",), "azure")


def test_an_unknown_region_gets_no_advice() -> None:
    region = dict(FR, code=None, known=False, name=None, intensity_g_per_kwh=473.0, source="unknown")
    assert advise(region, 1.0)["regions"] == []
    assert recommendation(make_report(region=region)) is None


def test_providers_are_read_strictly() -> None:
    assert parse_providers("GCP, aws") == ("gcp", "aws")
    assert parse_providers("all") == ("aws", "azure", "gcp")
    with pytest.raises(ValueError, match="expected providers among aws, azure, gcp"):
        parse_providers("ibm")


class _Table(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._in = False
        self._table = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("class", "rec") in attrs:
            self._table = True
        elif tag == "tr" and self._table:
            self.rows.append([])
        elif tag in ("td", "th") and self._table:
            self._in = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in = False
        elif tag == "table":
            self._table = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.rows[-1][-1] += data


def test_the_plugin_computes_the_advice_once_and_every_page_shows_it(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = carbon_pytester.runpytest(
        "--carbon",
        "--carbon-region=aws:eu-west-1",
        "--carbon-advice-providers=aws,gcp",
        "--carbon-json=r.json",
        "--carbon-store=off",
    )
    assert result.ret == 0
    report = json.loads((carbon_pytester.path / "r.json").read_text(encoding="utf-8"))
    advice = report["advice"]
    assert advice["providers"] == ["aws", "gcp"] and advice["provider_first"] == "aws"
    codes = [r["code"] for r in advice["regions"]]
    assert codes == [
        r["code"] for r in advise(report["region"], report["session"]["energy_j"], providers=("aws", "gcp"))["regions"]
    ]
    # the HTML page reads the report's advice: the same three regions
    rows = _Table(render_html(report)).rows
    assert [row[1] for row in rows[1:]] == codes
    # the Markdown too, even when the tables would now say otherwise: it is the report's
    report["advice"]["regions"][0]["name"] = "as recorded"
    assert "as recorded" in (recommendation(report) or "")


def test_regions_greener_than_uses_the_same_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "--greener-than", "DE", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    codes = [r["code"] for r in data["greener"]]
    assert codes == [r["code"] for r in advise(data["region"], providers=("aws", "azure", "gcp"))["regions"]]
    assert all(code.split(":")[0] in ("aws", "azure", "gcp") for code in codes)
    assert main(["regions", "--greener-than", "DE", "--providers", "azure", "--json"]) == 0
    assert {r["provider"] for r in json.loads(capsys.readouterr().out)["greener"]} == {"azure"}
    assert main(["regions", "--greener-than", "DE", "--providers", "ibm"]) == 2
    assert "expected providers among aws, azure, gcp" in capsys.readouterr().err


def test_a_wrong_provider_option_stops_the_run(carbon_pytester: pytest.Pytester) -> None:
    carbon_pytester.makepyfile(test_a="def test_a():\n    pass\n")
    result = carbon_pytester.runpytest("--carbon", "--carbon-advice-providers=ibm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--carbon-advice-providers=ibm: expected providers among aws, azure, gcp*"])
