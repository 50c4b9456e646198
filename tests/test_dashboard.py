"""The dashboard and the single-run page, rendered and opened in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from reportdata import AWS_IE, NASTY_IDS, make_report

from pytest_carbon.cli import main
from pytest_carbon.dashboard import write_dashboard
from pytest_carbon.reports.html import render_html, write_html
from pytest_carbon.store import open_store
from pytest_carbon.units import format_co2

SCRIPT_ID = "tests/test_x.py::test_p[<script>document.title='pwned'</script>]"
IMG_ID = "tests/test_x.py::test_p[<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">]"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def chromium() -> str:
    """The Chromium binary, or skip (fail where CI requires it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = "Chromium is not installed (apt-get install chromium)"
    if os.environ.get("PYTEST_CARBON_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (PYTEST_CARBON_REQUIRE_SERVICES=1 requires it)", pytrace=False)
    pytest.skip(reason)


def run_chromium(page: Path, tmp_path: Path, *extra: str) -> str:
    """Load ``page`` in headless Chromium; return the DOM after its scripts (if any) ran."""
    cmd = [
        chromium(),
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *extra,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Dom(HTMLParser):
    """The text of a DOM, its title, and every element with its attributes."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title" and len([e for e in self.elements if e[0] == "title"]) == 1

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]


def fill_store(url: str, root: Path) -> list[dict[str, object]]:
    reports = []
    with open_store(url, root) as store:
        for n in range(6):
            tests = [(f"tests/test_core.py::test_{i}", 0.2 * (i + 1) * (n + 1)) for i in range(8)]
            if n == 5:
                tests += [(SCRIPT_ID, 90.0), (IMG_ID, 80.0)] + [(nid, 1.0) for nid in NASTY_IDS]
            report = make_report(tests, region=AWS_IE, run_id=f"{n:032x}")
            report["run"]["project"] = "core <b>lib</b>" if n % 2 else "web"
            report["run"]["git"]["branch"] = "feat/<i>x</i>"
            report["run"]["started_at"] = f"2026-11-{n + 10}T03:00:00Z"
            if n == 5:
                report["tests"][-1]["budget"] = {"limit": "5 mg", "status": "exceeded"}
                report["tests"][0]["budget"] = {"limit": "1 g", "status": "ok"}
            store.record(report, organisation="acme")
            reports.append(report)
    return reports


def test_dashboard_in_chromium(tmp_path: Path) -> None:
    reports = fill_store(str(tmp_path / "h.sqlite"), tmp_path)
    out = tmp_path / "site"
    assert main(["dashboard", "--store", str(tmp_path / "h.sqlite"), "-o", str(out)]) == 0
    index = out / "index.html"
    source = index.read_text(encoding="utf-8")
    assert "<script" not in source  # no script of ours, and the test id's is escaped
    assert "http://" not in source.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in source

    dom = Dom(run_chromium(index, tmp_path, "--dump-dom", "--virtual-time-budget=2000"))
    assert dom.title == "pytest-carbon dashboard"  # the test id's script did not run
    assert all("data-pwned" not in attrs for attrs in dom.tags("body"))
    assert dom.tags("script") == []  # parsed as text, not as an element
    assert all(attrs.get("src") != "x" for attrs in dom.tags("img"))
    assert SCRIPT_ID in dom.text
    assert "document.body.setAttribute('data-pwned','1')" in dom.text
    total_g = sum(float(r["session"]["co2_g"]) for r in reports)  # type: ignore[index]
    assert format_co2(total_g) in dom.text
    assert "Organisation total" in dom.text
    assert "core <b>lib</b>" in dom.text and "feat/<i>x</i>" in dom.text
    assert dom.tags("b") == [] and dom.tags("i") == []
    assert "driven by an average US car" in dom.text
    assert "car: US EPA" in dom.text
    assert "Cleaner cloud regions" in dom.text
    assert "aws:eu-north-1" in dom.text  # the same provider's cleaner region comes first
    assert "Test budgets: 1 held, 1 exceeded" in dom.text
    # the exceeded test is listed even though it is not among the top tests
    assert " ".join(NASTY_IDS[-1].split()) + " : exceeded 1 J" in dom.text and "budget 5 mg" in dom.text
    assert len(dom.tags("svg")) >= 3  # per-project bars and a trend per project

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    run_chromium(index, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars")
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"dashboard screenshot: {shot}")


def test_chromium_does_run_scripts(tmp_path: Path) -> None:
    """The control for the test above: a real script in a page does change the title."""
    page = tmp_path / "control.html"
    page.write_text("<html><head><title>before</title></head><body><script>document.title='ran'</script></body></html>")
    assert Dom(run_chromium(page, tmp_path, "--dump-dom")).title == "ran"


def test_single_run_page_in_chromium(tmp_path: Path) -> None:
    report = make_report([(SCRIPT_ID, 3.0), ("tests/test_a.py::test_ok", 1.0)], region=AWS_IE)
    report["budget"] = {"limit": "1 g", "status": "ok", "text": "session carbon budget ok: 1 mg measured"}
    path = tmp_path / "run.html"
    write_html(report, path)
    dom = Dom(run_chromium(path, tmp_path, "--dump-dom"))
    assert dom.title == "pytest-carbon: demo"
    assert SCRIPT_ID in dom.text
    assert dom.tags("script") == []
    assert format_co2(report["session"]["co2_g"]) in dom.text
    assert "Session budget ok" in dom.text
    assert " of television" in dom.text
    assert "aws:eu-north-1" in dom.text


def test_unknown_region_and_no_budgets() -> None:
    report = make_report()
    report["region"] = {"code": None, "known": False, "note": "region unknown: world average used"}
    text = render_html(report)
    assert "is not known, so no cleaner region can be suggested" in text
    assert "budget" not in text.split("<tbody>")[0].lower().replace("<th>budget</th>", "")


def test_recommendations_without_the_intensity_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pytest_carbon.intensity", None)  # as if the module were absent
    text = render_html(make_report(region=AWS_IE))
    assert "No cleaner cloud region can be suggested: the intensity tables could not be read" in text


def test_empty_store_dashboard(tmp_path: Path) -> None:
    with open_store(None, tmp_path) as store:
        index = write_dashboard(store, tmp_path / "site")
    assert "The history is empty" in index.read_text()


def test_run_id_cannot_escape_the_site_folder(tmp_path: Path) -> None:
    report = make_report(run_id="../../escaped")
    with open_store(None, tmp_path) as store:
        store.record(report)
        write_dashboard(store, tmp_path / "site")
    assert not (tmp_path / "escaped.html").exists()
    assert [p.parent.name for p in (tmp_path / "site").rglob("*.html")].count("runs") == 1
