"""Equivalents at a human scale: three significant figures, a unit for the size, sources once a page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from reportdata import AWS_IE, make_report

from pytest_carbon.dashboard import write_dashboard
from pytest_carbon.equivalents import (
    CAR_G_PER_KM,
    HOUSEHOLD_KWH_PER_DAY,
    SOURCES,
    TV_W,
    equivalents,
    three_figures,
)
from pytest_carbon.reports.html import render_html
from pytest_carbon.reports.markdown import render_markdown
from pytest_carbon.store import open_store
from pytest_carbon.summary import summary_lines

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def _by_key(energy_j: float, co2_g: float) -> dict[str, str]:
    return {e.key: e.text for e in equivalents(energy_j, co2_g)}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.456, "1.46"),
        (0.0519, "0.0519"),
        (12345.0, "12,300"),
        (999.6, "1,000"),
        (9.996, "10.0"),
        (1.0, "1.00"),
        (0.1, "0.100"),
        (250.0, "250"),
    ],
)
def test_three_significant_figures_without_exponents(value: float, shown: str) -> None:
    assert three_figures(value) == shown


@pytest.mark.parametrize(
    ("co2_g", "expected"),
    [
        (CAR_G_PER_KM * 1.46e-6, "1.46 mm driven"),  # the "1.46e-06 km" of the old output
        (CAR_G_PER_KM * 0.0025, "2.50 m driven"),
        (CAR_G_PER_KM * 0.999, "999 m driven"),
        (CAR_G_PER_KM * 1.5, "1.50 km driven"),
        (CAR_G_PER_KM * 4321.0, "4,320 km driven"),
        (CAR_G_PER_KM * 1e-10, "less than 0.001 mm driven"),
        (0.0, "0 mm driven"),
    ],
)
def test_car_distance_in_the_unit_for_its_size(co2_g: float, expected: str) -> None:
    assert _by_key(0.0, co2_g)["car_km"].startswith(expected + " by an average US car")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.5, "0.500 seconds"),
        (1.0, "1.00 second"),
        (45.0, "45.0 seconds"),
        (90.0, "1.50 minutes"),
        (3600.0 * 2.25, "2.25 hours"),
    ],
)
def test_television_time_in_the_unit_for_its_size(seconds: float, expected: str) -> None:
    energy_j = TV_W * seconds
    assert _by_key(energy_j, 0.0)["tv_hours"] == f"{expected} of television"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(30.0, "30.0 seconds"), (600.0, "10.0 minutes"), (7200.0, "2.00 hours"), (86400.0 * 3, "3.00 days")],
)
def test_household_time_in_the_unit_for_its_size(seconds: float, expected: str) -> None:
    energy_j = HOUSEHOLD_KWH_PER_DAY * 3.6e6 * seconds / 86400.0
    assert _by_key(energy_j, 0.0)["household_days"] == f"{expected} of an average US household's electricity"


def test_the_raw_values_stay_in_their_base_units() -> None:
    car, tv, home = equivalents(TV_W * 3600.0, CAR_G_PER_KM * 2.0)
    assert car.value == pytest.approx(2.0) and car.unit == "km"
    assert tv.value == pytest.approx(1.0) and tv.unit == "h"
    assert home.value == pytest.approx(TV_W * 3600.0 / 3.6e6 / HOUSEHOLD_KWH_PER_DAY)


class _Text(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.feed(text)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


# a small run: 1.2 J and a few hundred micrograms, the size that used to come out in scientific notation
SMALL = [("tests/test_a.py::test_x", 0.4), ("tests/test_a.py::test_y", 0.8)]


def test_markdown_shows_human_scale_and_each_source_once() -> None:
    text = render_markdown(make_report(SMALL))
    plain = _Text(MarkdownIt("commonmark").enable("table").render(text)).text
    line = plain.split("Equivalent to")[1].split("Region")[0]
    assert "mm driven by an average US car" in line
    assert "seconds of television" in line
    assert not SCIENTIFIC.search(line)
    for source in SOURCES.values():
        assert plain.count(source) == 1


def test_html_page_shows_human_scale_and_each_source_once() -> None:
    plain = _Text(render_html(make_report(SMALL))).text
    assert "mm driven by an average US car" in plain
    assert "seconds of television" in plain
    section = plain.split("This run is about")[1].split("Cleaner regions")[0]
    assert not SCIENTIFIC.search(section)
    for source in SOURCES.values():
        assert plain.count(source) == 1


def test_dashboard_names_each_source_once_however_many_runs_it_shows(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "h.sqlite"), tmp_path) as store:
        for n, project in enumerate(("web", "api", "cli")):
            report = make_report(SMALL, region=AWS_IE, run_id=f"{n:032x}")
            report["run"]["project"] = project
            store.record(report, organisation="acme")
        index = write_dashboard(store, tmp_path / "site")
    plain = _Text(index.read_text(encoding="utf-8")).text
    assert plain.count(" is about ") == 4  # the total and each project's latest run
    for source in SOURCES.values():
        assert plain.count(source) == 1
    assert not SCIENTIFIC.search(plain.split("All stored runs together is about")[1].split("Projects")[0])


def test_terminal_shows_equivalents_under_verbose_only() -> None:
    report = make_report(SMALL)
    quiet = "\n".join(summary_lines(report, verbosity=0))
    verbose = summary_lines(report, verbosity=1)
    assert "equivalent to" not in quiet
    line = next(ln for ln in verbose if ln.startswith("equivalent to: "))
    assert "mm driven by an average US car" in line and not SCIENTIFIC.search(line)
    assert sum(ln.count(SOURCES["car_km"]) for ln in verbose) == 1
