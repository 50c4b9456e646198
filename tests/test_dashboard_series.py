"""The dashboard's comparable series: grouped runs, labelled axes, noise bands, sparklines, a page a run."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from pathlib import Path

from reportdata import AWS_IE, FR, make_report
from test_dashboard import SCRIPT_ID, Dom, run_chromium

from pytest_carbon.dashboard import run_page, write_dashboard
from pytest_carbon.reports.series import _nice_ticks, series_key
from pytest_carbon.store import open_store


class Charts(HTMLParser):
    """Every series chart (its metric, tick and axis-label texts, noise bands) and every sparkline."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[dict[str, object]] = []
        self.sparks = 0
        self.groups = 0
        self._in: str | None = None
        self._chart: dict[str, object] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "div" and "series-group" in classes:
            self.groups += 1
        if tag == "svg" and "series" in classes:
            self._chart = {"metric": a.get("data-metric"), "y-tick": [], "x-tick": [], "y-label": [], "x-label": []}
            self._chart["bands"] = 0
            self._chart["dots"] = 0
            self.charts.append(self._chart)
        elif tag == "svg" and "spark" in classes:
            self.sparks += 1
        elif self._chart is not None:
            if tag == "rect" and "band" in classes:
                self._chart["bands"] = int(str(self._chart["bands"])) + 1
            if tag == "circle":
                self._chart["dots"] = int(str(self._chart["dots"])) + 1
            if tag == "text":
                self._in = next((c for c in classes if c in ("y-tick", "x-tick", "y-label", "x-label")), None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._chart is not None and self._in:
            texts = self._chart[self._in]
            assert isinstance(texts, list)
            texts.append(data)


def _report(n: int, *, selection: str = "all", workers: int = 0, region: dict[str, object] = FR) -> dict[str, object]:
    tests = [(f"tests/test_core.py::test_{i}", 0.5 * (i + 1) + 0.1 * n) for i in range(6)] + [(SCRIPT_ID, 2.0 + n)]
    report = make_report(tests, region=copy.deepcopy(region), run_id=f"{n:032x}")
    report["run"]["project"] = "web"  # type: ignore[index]
    report["run"]["started_at"] = f"2026-11-{n + 10:02d}T03:00:00Z"  # type: ignore[index]
    report["run"]["selection"] = selection  # type: ignore[index]
    report["run"]["workers"] = workers  # type: ignore[index]
    return report


def _fill(url: str, root: Path) -> list[dict[str, object]]:
    reports = [_report(n) for n in range(5)]
    reports += [_report(5, selection="subset"), _report(6, selection="subset")]  # a -k run: a series of its own
    reports.append(_report(7, workers=2))
    reports.append(_report(8, region=AWS_IE))
    # the newest run of the main series was compared by the gate: its baseline's noise band is drawn
    reports.append(_report(9))
    reports[-1]["comparison"] = {"metric": "energy", "session": {"band": [11.0, 13.5]}}
    with open_store(url, root) as store:
        for report in reports:
            store.record(report)
    return reports


def test_runs_are_grouped_into_comparable_series() -> None:
    a = series_key({"project": "p", "branch": "main", "region_code": "FR"}, _report(1))
    b = series_key({"project": "p", "branch": "main", "region_code": "FR"}, _report(2))
    c = series_key({"project": "p", "branch": "main", "region_code": "FR"}, _report(3, selection="subset"))
    assert a == b and a != c
    assert "selection subset" in c.label() and "no xdist" in c.label()


def test_ticks_are_round_and_cover_the_top() -> None:
    assert _nice_ticks(13.5) == [0.0, 5.0, 10.0, 15.0]
    assert _nice_ticks(0.0009)[-1] >= 0.0009
    assert _nice_ticks(0.0) == [0.0, 1.0]


def test_dashboard_series_in_chromium(tmp_path: Path) -> None:
    reports = _fill(str(tmp_path / "h.sqlite"), tmp_path)
    out = tmp_path / "site"
    with open_store(str(tmp_path / "h.sqlite"), tmp_path) as store:
        index = write_dashboard(store, out)
    dom_text = run_chromium(index, tmp_path, "--dump-dom")
    dom = Dom(dom_text)
    assert dom.title == "pytest-carbon dashboard" and dom.tags("script") == []
    assert SCRIPT_ID in dom.text  # the hostile id stays text
    found = Charts(dom_text)
    assert found.groups == 4  # main, the subset, two workers, another region
    assert len(found.charts) == 8 and [c["metric"] for c in found.charts[:2]] == ["energy", "co2"]
    for chart in found.charts:
        assert chart["y-label"] in (["energy per run"], ["CO2e per run"])
        assert chart["x-label"] and "oldest to newest" in str(chart["x-label"])
        assert len(chart["y-tick"]) >= 2 and len(chart["x-tick"]) >= 1  # type: ignore[arg-type]
    main_energy = found.charts[0]
    assert main_energy["dots"] == 6 and main_energy["bands"] == 1  # 6 runs in the main series, one compared
    assert found.charts[1]["bands"] == 0  # the gate compared energy, not CO2e
    assert "2026-11-19 03:00" in main_energy["x-tick"]  # type: ignore[operator]
    assert found.sparks == 5 * 4  # the five costliest tests of each series
    # a page for every stored run, and a list of them
    for report in reports:
        assert (out / run_page(report["run"]["id"])).is_file()  # type: ignore[index]
    listing = Dom(run_chromium(out / "runs.html", tmp_path, "--dump-dom"))
    assert len([a for a in listing.tags("a") if str(a.get("href")).startswith("runs/")]) == len(reports)
