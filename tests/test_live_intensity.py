"""Live intensity against real HTTP servers on 127.0.0.1: documented shapes, failures, timeouts, the token."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

# imported here so that in-process inner sessions (which restore sys.modules) keep one copy of it
import requests  # noqa: F401
from loopback import serve, silent_port

from pytest_carbon.intensity import apply_live, lookup
from pytest_carbon.intensity.live import forget

TOKEN = "em-secret-9f8e7d6c5b4a"
EM_ANSWER = {
    "zone": "FR",
    "carbonIntensity": 83,
    "datetime": "2026-11-29T03:00:00.000Z",
    "updatedAt": "2026-11-29T02:50:00.000Z",
    "emissionFactorType": "lifecycle",
    "isEstimated": True,
}
UK_HALF_HOUR = {"from": "2026-11-29T03:00Z", "to": "2026-11-29T03:30Z"}
UK_NATIONAL = {"data": [{**UK_HALF_HOUR, "intensity": {"forecast": 266, "actual": 263, "index": "moderate"}}]}
UK_POSTCODE = {
    "data": [
        {
            "regionid": 12,
            "dnoregion": "SSE South",
            "shortname": "South England",
            "postcode": "RG10",
            "data": [
                {
                    "from": "2026-11-29T03:00Z",
                    "to": "2026-11-29T03:30Z",
                    "intensity": {"forecast": 142, "index": "low"},
                    "generationmix": [{"fuel": "wind", "perc": 40.1}],
                }
            ],
        }
    ]
}


class Service(BaseHTTPRequestHandler):
    """Serves what ``mode`` says: the documented answers or one of the failures."""

    mode = "ok"
    hits: ClassVar[list[str]] = []
    seen_tokens: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.seen_tokens.append(self.headers.get("auth-token", ""))
        if self.mode != "ok":
            status = {"401": 401, "429": 429, "500": 500}.get(self.mode, 200)
            self._send(status, "{not json" if self.mode == "malformed" else '{"error": "no"}')
        elif self.path == "/v3/carbon-intensity/latest?zone=FR":
            if self.headers.get("auth-token") != TOKEN:
                self._send(401, '{"message": "bad token"}')
            else:
                self._send(200, json.dumps(EM_ANSWER))
        elif self.path == "/intensity":
            self._send(200, json.dumps(UK_NATIONAL))
        elif self.path == "/regional/postcode/RG10":
            self._send(200, json.dumps(UK_POSTCODE))
        else:
            self._send(404, "{}")


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget()
    Service.mode, Service.hits, Service.seen_tokens = "ok", [], []
    yield
    forget()


@pytest.fixture
def url() -> Iterator[str]:
    with serve(Service) as base:
        yield base


@pytest.fixture
def silent_url() -> Iterator[str]:
    with silent_port() as base:
        yield base


def em(url: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"service": "electricitymaps", "url": url, "cache_dir": str(tmp_path), **extra}


ENV = {"ELECTRICITYMAPS_API_TOKEN": TOKEN}


def assert_no_token(region_dict: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    assert TOKEN not in json.dumps(region_dict)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


def test_electricitymaps_latest(url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    region = apply_live(lookup("FR", source="command line"), ENV, **em(url, tmp_path))
    assert region.live and region.intensity_g_per_kwh == 83.0
    assert region.year == 2026 and "Electricity Maps API" in region.intensity_source
    assert region.basis.startswith("consumption, lifecycle")
    assert region.code == "FR" and region.source == "command line" and region.note is None
    assert Service.seen_tokens == [TOKEN]
    assert_no_token(region.to_dict(), caplog)


def test_one_call_per_session_then_the_disk_cache(url: str, tmp_path: Path) -> None:
    base = lookup("FR")
    first = apply_live(base, ENV, **em(url, tmp_path))
    second = apply_live(base, ENV, **em(url, tmp_path))
    assert first == second and len(Service.hits) == 1
    forget()  # a new session in a new process
    third = apply_live(base, ENV, **em(url, tmp_path))
    assert len(Service.hits) == 1 and third.live and "(cached)" in third.intensity_source
    assert TOKEN not in "".join(p.read_text() for p in tmp_path.iterdir())


def test_cache_expires(url: str, tmp_path: Path) -> None:
    apply_live(lookup("FR"), ENV, **em(url, tmp_path))
    forget()
    apply_live(lookup("FR"), ENV, **em(url, tmp_path, cache_s=0))
    assert len(Service.hits) == 2


def test_cloud_region_asks_for_its_zone(url: str, tmp_path: Path) -> None:
    region = apply_live(lookup("aws:eu-west-3"), ENV, **em(url, tmp_path))
    assert Service.hits == ["/v3/carbon-intensity/latest?zone=FR"] and region.live
    assert region.pue == 1.14 and region.code == "aws:eu-west-3"


@pytest.mark.parametrize(
    ("mode", "words"),
    [("401", "HTTP 401"), ("429", "HTTP 429"), ("500", "HTTP 500"), ("malformed", "not JSON")],
)
def test_failures_fall_back_with_a_note(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str, words: str
) -> None:
    caplog.set_level(logging.DEBUG)
    Service.mode = mode
    base = lookup("FR")
    region = apply_live(base, ENV, **em(url, tmp_path))
    assert not region.live and region.intensity_g_per_kwh == base.intensity_g_per_kwh == 41.44
    assert words in (region.note or "") and "yearly figure" in (region.note or "")
    assert_no_token(region.to_dict(), caplog)
    assert list(tmp_path.iterdir()) == []  # failures are not cached


def test_wrong_token_is_refused_without_showing_it(url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {"ELECTRICITYMAPS_API_TOKEN": "wrong-token-77"}
    region = apply_live(lookup("FR"), env, **em(url, tmp_path))
    assert "HTTP 401" in (region.note or "") and "wrong-token-77" not in json.dumps(region.to_dict())
    assert "wrong-token-77" not in caplog.text


def test_missing_token(url: str, tmp_path: Path) -> None:
    region = apply_live(lookup("FR"), {}, **em(url, tmp_path))
    assert not region.live and "ELECTRICITYMAPS_API_TOKEN" in (region.note or "") and Service.hits == []


def test_silent_server_costs_at_most_two_seconds(
    silent_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    start = time.perf_counter()
    region = apply_live(lookup("FR"), ENV, **em(silent_url, tmp_path))
    elapsed_s = time.perf_counter() - start
    assert elapsed_s <= 2.0 + 0.25
    assert not region.live and "did not answer" in (region.note or "")
    assert_no_token(region.to_dict(), caplog)
    start = time.perf_counter()
    again = apply_live(lookup("FR"), ENV, **em(silent_url, tmp_path))
    assert time.perf_counter() - start < 0.05  # the failure is remembered: one call per session
    assert not again.live


def test_unknown_region_is_not_sent(url: str, tmp_path: Path) -> None:
    from pytest_carbon.intensity import unknown_region

    region = apply_live(unknown_region(), ENV, **em(url, tmp_path))
    assert not region.live and Service.hits == [] and "unknown" in (region.note or "")


def test_uk_national(url: str, tmp_path: Path) -> None:
    opts = {"service": "uk-carbon-intensity", "url": url, "cache_dir": str(tmp_path)}
    region = apply_live(lookup("GB"), {}, **opts)
    assert region.live and region.intensity_g_per_kwh == 263.0 and Service.hits == ["/intensity"]
    assert "UK Carbon Intensity API" in region.intensity_source


def test_uk_postcode_uses_the_forecast(url: str, tmp_path: Path) -> None:
    opts = {
        "service": "uk-carbon-intensity",
        "url": url,
        "cache_dir": str(tmp_path),
        "uk_postcode": "rg10 9xy",
    }
    region = apply_live(lookup("GB"), {}, **opts)
    assert region.live and region.intensity_g_per_kwh == 142.0
    assert Service.hits == ["/regional/postcode/RG10"] and "South England" in region.intensity_source


def test_uk_service_refuses_other_countries(url: str, tmp_path: Path) -> None:
    opts = {"service": "uk-carbon-intensity", "url": url, "cache_dir": str(tmp_path)}
    region = apply_live(lookup("FR"), {}, **opts)
    assert not region.live and "Great Britain" in (region.note or "") and Service.hits == []


def test_uk_malformed_shape(url: str, tmp_path: Path) -> None:
    Service.mode = "shape"  # 200 with a JSON body of the wrong shape
    opts = {"service": "uk-carbon-intensity", "url": url, "cache_dir": str(tmp_path)}
    region = apply_live(lookup("GB"), {}, **opts)
    assert not region.live and "unexpected shape" in (region.note or "")


def test_off_changes_nothing(tmp_path: Path) -> None:
    base = lookup("FR")
    assert apply_live(base, ENV, **{"service": "off"}) is base


class Trickle(BaseHTTPRequestHandler):
    """Answers the documented Electricity Maps body, but one piece every 0.8 s (headers or body)."""

    where = "body"
    pieces: ClassVar[int] = 4

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        data = json.dumps(EM_ANSWER).encode()
        try:
            if self.where == "headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for name in ("Content-Type: application/json", f"Content-Length: {len(data)}", "X-A: 1", "X-B: 2"):
                    self.wfile.flush()
                    time.sleep(0.8)
                    self.wfile.write(name.encode() + b"\r\n")
                self.wfile.write(b"\r\n" + data)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            size = -(-len(data) // self.pieces)
            for start in range(0, len(data), size):
                self.wfile.write(data[start : start + size])
                self.wfile.flush()
                time.sleep(0.8)
        except OSError:  # the client gave up
            pass


@pytest.mark.parametrize("where", ["body", "headers"])
def test_trickling_server_costs_at_most_two_seconds_and_its_figure_is_not_used(
    tmp_path: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every piece comes within the old per-read limit (1 s), the whole answer only after 3.2 s
    monkeypatch.setattr(Trickle, "where", where)
    with serve(Trickle) as base:
        start = time.perf_counter()
        region = apply_live(lookup("FR"), ENV, **em(base, tmp_path))
        elapsed_s = time.perf_counter() - start
    assert elapsed_s <= 2.0 + 0.25
    assert not region.live and region.intensity_g_per_kwh == 41.44
    assert "did not answer within 2 s" in (region.note or "")
    assert list(tmp_path.iterdir()) == []  # nothing cached
    time.sleep(1.5)  # the abandoned request completes in the background: its figure stays unused
    assert apply_live(lookup("FR"), ENV, **em(base, tmp_path)).live is False
    assert list(tmp_path.iterdir()) == []  # nor cached once it has come


class Elsewhere(Service):
    """The other host: records what it is sent."""

    hits: ClassVar[list[str]] = []
    seen_tokens: ClassVar[list[str]] = []


def redirecting(target: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Redirect


@pytest.mark.parametrize("other_host", ["127.0.0.2", "127.0.0.1"])
def test_redirects_are_not_followed_and_the_token_goes_nowhere_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, other_host: str
) -> None:
    caplog.set_level(logging.DEBUG)
    Elsewhere.hits, Elsewhere.seen_tokens = [], []
    with serve(Elsewhere, host=other_host) as target, serve(redirecting(target)) as base:
        region = apply_live(lookup("FR"), ENV, **em(base, tmp_path))
    assert Elsewhere.hits == [] and Elsewhere.seen_tokens == []
    assert not region.live and "redirect (HTTP 302)" in (region.note or "")
    assert target not in (region.note or "")  # the address it points to is not repeated
    assert_no_token(region.to_dict(), caplog)


class Echo(BaseHTTPRequestHandler):
    """A service that puts the token it is sent into its answer: in ``fields`` of the documented body."""

    fields: ClassVar[dict[str, str]] = {}
    status = 200

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        token = self.headers.get("auth-token", "")
        body = {**EM_ANSWER, "message": f"hello {token}", "updatedAt": token}
        for key, template in self.fields.items():
            body[key] = template.format(token=token)
        data = json.dumps(body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo", token)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ECHOES = {
    "extra fields only": {},
    "zone": {"zone": "FR {token}"},
    "datetime": {"datetime": "2026-11-29T03:00:00Z {token}"},
    "factor type": {"emissionFactorType": "lifecycle\n{token}"},
    "estimated": {"isEstimated": "{token}"},
}


@pytest.mark.parametrize("fields", ECHOES.values(), ids=ECHOES.keys())
def test_an_echoed_token_is_kept_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, fields: dict[str, str]
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(Echo, "fields", fields)
    with serve(Echo) as base:
        region = apply_live(lookup("FR"), ENV, **em(base, tmp_path))
        forget()
        again = apply_live(lookup("FR"), ENV, **em(base, tmp_path))  # from the cache when there is one
    assert region.live is (not fields) and again.live is (not fields)
    if fields:
        assert region.intensity_g_per_kwh == 41.44 and "yearly figure" in (region.note or "")
    else:
        assert region.intensity_source.startswith("Electricity Maps API (FR), live at 2026-11-29T03:00:00")
    for figure in (region, again):
        assert_no_token(figure.to_dict(), caplog)
    assert all(TOKEN not in path.read_text() for path in tmp_path.iterdir())


def test_an_old_cache_that_holds_the_token_is_not_trusted(url: str, tmp_path: Path) -> None:
    apply_live(lookup("FR"), ENV, **em(url, tmp_path))
    (cache,) = tmp_path.iterdir()
    data = json.loads(cache.read_text())
    data["source"] = f"Electricity Maps API ({TOKEN})"
    cache.write_text(json.dumps(data))
    forget()
    region = apply_live(lookup("FR"), ENV, **em(url, tmp_path))
    assert len(Service.hits) == 2 and TOKEN not in json.dumps(region.to_dict())


class Answer(BaseHTTPRequestHandler):
    """Answers ``body`` (raw bytes, or text in UTF-8) with HTTP 200."""

    body: bytes | str = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        data = self.body.encode() if isinstance(self.body, str) else self.body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def em_with(**fields: Any) -> str:
    return json.dumps({**EM_ANSWER, **fields})


BAD_ANSWERS = {
    "NaN": (em_with().replace("83", "NaN"), "no usable intensity"),
    "infinite": (em_with().replace("83", "1e400"), "no usable intensity"),
    "negative": (em_with(carbonIntensity=-5), "no usable intensity"),
    "implausible": (em_with(carbonIntensity=2500), "0 to 2000 g/kWh"),
    "text": (em_with(carbonIntensity="83"), "no usable intensity"),
    "another zone": (em_with(zone="DE"), "another zone than FR"),
    "no time": (em_with(datetime="yesterday"), "no usable time"),
    "unknown factor": (em_with(emissionFactorType="<b>x</b>"), "emission factor type"),
    "a list": ("[83]", "unexpected shape"),
    "deep": ("[" * 100_000 + "]" * 100_000, "not JSON"),
    "not UTF-8": (b'{"zone": "\xff\xfe"}', "not JSON"),
    "huge": (em_with(padding="x" * 400_000), "more than 256 KiB"),
}


@pytest.mark.parametrize(("body", "words"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_answers_are_checked_before_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: bytes | str, words: str
) -> None:
    monkeypatch.setattr(Answer, "body", body)
    with serve(Answer) as base:
        region = apply_live(lookup("FR"), ENV, **em(base, tmp_path))
    assert not region.live and region.intensity_g_per_kwh == 41.44
    assert words in (region.note or "")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fields", [ECHOES["extra fields only"], ECHOES["zone"]], ids=["used", "refused"])
def test_an_echoed_token_reaches_no_artefact(
    carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fields: dict[str, str]
) -> None:
    monkeypatch.setattr(Echo, "fields", fields)
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", TOKEN)
    carbon_pytester.makepyfile(test_a="def test_one():\n    pass\n")
    out = carbon_pytester.path
    with serve(Echo) as base:
        result = carbon_pytester.runpytest(
            "--carbon",
            "-v",
            "--carbon-region=FR",
            "--carbon-live=electricitymaps",
            f"--carbon-live-url={base}",
            f"--carbon-cache-dir={out / 'cache'}",
            "--carbon-json=r.json",
            "--carbon-html=r.html",
            "--carbon-markdown=r.md",
            "--carbon-csv=r.csv",
            "--carbon-junit=r.xml",
            f"--carbon-store={out / 'h.sqlite'}",
        )
    assert result.ret == 0
    text = result.stdout.str() + result.stderr.str()
    assert "Electricity Maps" in text and TOKEN not in text
    region = json.loads((out / "r.json").read_text())["region"]
    assert region["live"] is (not fields)
    written = [
        p for p in out.rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".md", ".csv", ".xml", ".sqlite")
    ]
    assert {p.name for p in written} >= {"r.json", "r.html", "r.md", "r.csv", "r.xml", "h.sqlite"}
    for path in written:
        assert TOKEN.encode() not in path.read_bytes(), path


def test_a_token_found_in_a_checked_field_is_still_kept_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a token that happens to be part of a valid time: the figure is not used rather than show it
    monkeypatch.setattr(Answer, "body", em_with())
    with serve(Answer) as base:
        region = apply_live(lookup("FR"), {"ELECTRICITYMAPS_API_TOKEN": "03:00:00"}, **em(base, tmp_path))
    assert not region.live and "holds the API token" in (region.note or "")
    assert "03:00:00" not in json.dumps(region.to_dict()) and list(tmp_path.iterdir()) == []
