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
    return {"carbon_live": "electricitymaps", "carbon_live_url": url, "carbon_cache_dir": str(tmp_path), **extra}


ENV = {"ELECTRICITYMAPS_API_TOKEN": TOKEN}


def assert_no_token(region_dict: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    assert TOKEN not in json.dumps(region_dict)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


def test_electricitymaps_latest(url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    region = apply_live(lookup("FR", source="command line"), em(url, tmp_path), ENV)
    assert region.live and region.intensity_g_per_kwh == 83.0
    assert region.year == 2026 and "Electricity Maps API" in region.intensity_source
    assert region.basis.startswith("consumption, lifecycle")
    assert region.code == "FR" and region.source == "command line" and region.note is None
    assert Service.seen_tokens == [TOKEN]
    assert_no_token(region.to_dict(), caplog)


def test_one_call_per_session_then_the_disk_cache(url: str, tmp_path: Path) -> None:
    base = lookup("FR")
    first = apply_live(base, em(url, tmp_path), ENV)
    second = apply_live(base, em(url, tmp_path), ENV)
    assert first == second and len(Service.hits) == 1
    forget()  # a new session in a new process
    third = apply_live(base, em(url, tmp_path), ENV)
    assert len(Service.hits) == 1 and third.live and "(cached)" in third.intensity_source
    assert TOKEN not in "".join(p.read_text() for p in tmp_path.iterdir())


def test_cache_expires(url: str, tmp_path: Path) -> None:
    apply_live(lookup("FR"), em(url, tmp_path), ENV)
    forget()
    apply_live(lookup("FR"), em(url, tmp_path, carbon_live_cache_s=0), ENV)
    assert len(Service.hits) == 2


def test_cloud_region_asks_for_its_zone(url: str, tmp_path: Path) -> None:
    region = apply_live(lookup("aws:eu-west-3"), em(url, tmp_path), ENV)
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
    region = apply_live(base, em(url, tmp_path), ENV)
    assert not region.live and region.intensity_g_per_kwh == base.intensity_g_per_kwh == 41.44
    assert words in (region.note or "") and "yearly figure" in (region.note or "")
    assert_no_token(region.to_dict(), caplog)
    assert list(tmp_path.iterdir()) == []  # failures are not cached


def test_wrong_token_is_refused_without_showing_it(url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {"ELECTRICITYMAPS_API_TOKEN": "wrong-token-77"}
    region = apply_live(lookup("FR"), em(url, tmp_path), env)
    assert "HTTP 401" in (region.note or "") and "wrong-token-77" not in json.dumps(region.to_dict())
    assert "wrong-token-77" not in caplog.text


def test_missing_token(url: str, tmp_path: Path) -> None:
    region = apply_live(lookup("FR"), em(url, tmp_path), {})
    assert not region.live and "ELECTRICITYMAPS_API_TOKEN" in (region.note or "") and Service.hits == []


def test_silent_server_costs_at_most_two_seconds(
    silent_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    start = time.perf_counter()
    region = apply_live(lookup("FR"), em(silent_url, tmp_path), ENV)
    elapsed_s = time.perf_counter() - start
    assert elapsed_s <= 2.0 + 0.25
    assert not region.live and "did not answer" in (region.note or "")
    assert_no_token(region.to_dict(), caplog)
    start = time.perf_counter()
    again = apply_live(lookup("FR"), em(silent_url, tmp_path), ENV)
    assert time.perf_counter() - start < 0.05  # the failure is remembered: one call per session
    assert not again.live


def test_unknown_region_is_not_sent(url: str, tmp_path: Path) -> None:
    from pytest_carbon.intensity import unknown_region

    region = apply_live(unknown_region(), em(url, tmp_path), ENV)
    assert not region.live and Service.hits == [] and "unknown" in (region.note or "")


def test_uk_national(url: str, tmp_path: Path) -> None:
    opts = {"carbon_live": "uk-carbon-intensity", "carbon_live_url": url, "carbon_cache_dir": str(tmp_path)}
    region = apply_live(lookup("GB"), opts, {})
    assert region.live and region.intensity_g_per_kwh == 263.0 and Service.hits == ["/intensity"]
    assert "UK Carbon Intensity API" in region.intensity_source


def test_uk_postcode_uses_the_forecast(url: str, tmp_path: Path) -> None:
    opts = {
        "carbon_live": "uk-carbon-intensity",
        "carbon_live_url": url,
        "carbon_cache_dir": str(tmp_path),
        "carbon_uk_postcode": "rg10 9xy",
    }
    region = apply_live(lookup("GB"), opts, {})
    assert region.live and region.intensity_g_per_kwh == 142.0
    assert Service.hits == ["/regional/postcode/RG10"] and "South England" in region.intensity_source


def test_uk_service_refuses_other_countries(url: str, tmp_path: Path) -> None:
    opts = {"carbon_live": "uk-carbon-intensity", "carbon_live_url": url, "carbon_cache_dir": str(tmp_path)}
    region = apply_live(lookup("FR"), opts, {})
    assert not region.live and "Great Britain" in (region.note or "") and Service.hits == []


def test_uk_malformed_shape(url: str, tmp_path: Path) -> None:
    Service.mode = "shape"  # 200 with a JSON body of the wrong shape
    opts = {"carbon_live": "uk-carbon-intensity", "carbon_live_url": url, "carbon_cache_dir": str(tmp_path)}
    region = apply_live(lookup("GB"), opts, {})
    assert not region.live and "unexpected shape" in (region.note or "")


def test_off_changes_nothing(tmp_path: Path) -> None:
    base = lookup("FR")
    assert apply_live(base, {"carbon_live": "off"}, ENV) is base
