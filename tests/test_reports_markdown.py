"""The Markdown summary: parsed with markdown-it-py, tables with the right rows, nasty ids intact."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from reportdata import AWS_IE, FR, NASTY_IDS, make_report

from pytest_carbon.budget import budget_from, evaluate
from pytest_carbon.compare import compare
from pytest_carbon.reports.markdown import MARKER, append_markdown, escape, recommendation, render_markdown

MD = MarkdownIt("commonmark").enable("table")


def _tables(text: str) -> list[list[list[str]]]:
    """Every table of the rendered HTML as rows of cell HTML."""
    rendered = MD.render(text)
    tables = []
    for table in re.findall(r"<table>(.*?)</table>", rendered, flags=re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
            rows.append(re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S))
        tables.append(rows)
    return tables


def _cell_text(cell: str) -> str:
    """Back from rendered cell HTML to the original text (a <br> was a newline)."""
    return html.unescape(cell.replace("<br>", "\n").replace("<br />", "\n"))


def test_top_tests_table_keeps_nasty_ids() -> None:
    report = make_report([(n, 1.0 + i) for i, n in enumerate(NASTY_IDS)])
    text = render_markdown(report, top=10)
    assert text.startswith(MARKER)
    tables = _tables(text)
    assert len(tables) == 2  # the top tests, then the cleaner cloud regions
    header, *rows = tables[0]
    assert header[:2] == ["#", "test"]
    assert len(rows) == len(NASTY_IDS)
    assert all(len(r) == len(header) for r in rows)
    shown = [_cell_text(r[1]) for r in rows]
    expected = [n.replace("\t", " ") for n in reversed(NASTY_IDS)]  # sorted by energy, highest first
    assert shown == expected
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(NASTY_IDS) + 1)]


def test_totals_region_equivalents_budget_and_deltas() -> None:
    base = make_report([("t.py::a", 1.0), ("t.py::b", 1.0)], remainder_j=0.0)
    report = make_report([("t.py::a", 4.0), ("t.py::b", 1.0)], remainder_j=0.0)
    evaluate(report, session_budget=None, test_budgets={"t.py::a": budget_from("2 J", "marker")})
    report["comparison"] = compare(base, report, threshold=0.15, metric="energy").to_dict()
    text = render_markdown(report)
    rendered = MD.render(text)
    assert "pytest-carbon: " in rendered and "❌" in rendered
    assert "FR (France): 41.44 g/kWh from OWID/Ember 2025" in rendered
    assert "driven by an average US car" in rendered
    assert " of television" in rendered
    assert "1 of 1 test(s) over their budget" in rendered
    deltas, top, regions = _tables(text)
    assert regions[0][:2] == ["provider", "region"]
    assert deltas[0] == ["", "baseline (band)", "this run", "change", "verdict", "why"]
    session, test_a = deltas[1], deltas[2]
    assert (
        session[0] == "session" and session[1].startswith("2 J (") and session[2:5] == ["5 J", "+150.0%", "regression"]
    )
    assert session[5].startswith("p=")
    assert test_a[0] == "t.py::a" and test_a[1].startswith("1 J (") and test_a[2:5] == ["4 J", "+300.0%", "regression"]
    assert "2 test(s) judged: 1 regressed, 0 improved, 1 within noise." in rendered
    assert top[1][1] == "t.py::a" and top[1][-1] == "2 J exceeded"


def test_unknown_region_says_so_and_recommends_nothing() -> None:
    region = dict(FR, code=None, known=False, name=None, intensity_g_per_kwh=473.0, source="unknown")
    report = make_report(region=region)
    text = render_markdown(report)
    assert "unknown: the world average 473.0 g/kWh was used" in text
    assert recommendation(report) is None


def test_cloud_recommendation_names_cleaner_regions_of_the_same_provider() -> None:
    report = make_report([("t.py::a", 3600.0)], region=AWS_IE, remainder_j=0.0)
    tip = recommendation(report)
    assert tip is not None
    (table,) = _tables(tip)
    assert table[0] == ["provider", "region", "name", "intensity", "year", "source", "CO2e there", "saving"]
    assert len(table) == 4  # the three best
    for row in table[1:]:
        assert row[0] == "AWS" and row[1].startswith("aws:")
        intensity = float(row[3].removesuffix(" g/kWh"))
        assert intensity < float(str(AWS_IE["intensity_g_per_kwh"]))
        expected_g = 3600.0 / 3.6e6 * float(str(AWS_IE["pue"])) * intensity
        value, unit = row[6].removesuffix(" CO2e").split()
        assert float(value) * {"µg": 1e-6, "mg": 1e-3, "g": 1.0}[unit] == pytest.approx(expected_g, rel=5e-3)


def test_escape_in_a_paragraph() -> None:
    nasty = "a|b `c` <d> & *e* _f_ [g](h) \\ #"
    assert _cell_text(MD.render(escape(nasty)).strip()[3:-4]) == nasty


def test_append_keeps_what_was_there(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("# earlier step\n", encoding="utf-8")
    append_markdown(make_report(), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n") and MARKER in text


def test_a_country_run_is_advised_cloud_regions_never_a_grid() -> None:
    tip = recommendation(make_report(region=FR))
    assert tip is not None
    (table,) = _tables(tip)
    for row in table[1:]:
        assert row[1].split(":")[0] in ("aws", "azure", "gcp")
        assert 0 < float(row[3].removesuffix(" g/kWh")) < float(str(FR["intensity_g_per_kwh"]))
