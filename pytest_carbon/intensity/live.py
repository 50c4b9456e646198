"""Opt-in live grid intensity: Electricity Maps or the UK Carbon Intensity API, one call a session.

Every failure (no token, refused, rate-limited, slow, malformed) falls back to the yearly figure
with a note saying why. The token travels only in the request header: it is never put into a
Region, a note, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pytest_carbon.intensity.regions import Region, RegionError, country_of, zone_of

log = logging.getLogger("pytest_carbon.intensity")

TOKEN_VARIABLE = "ELECTRICITYMAPS_API_TOKEN"
DEFAULT_URLS = {
    "electricitymaps": "https://api.electricitymap.org",
    "uk-carbon-intensity": "https://api.carbonintensity.org.uk",
}
MAX_TIMEOUT_S = 2.0
DEFAULT_CACHE_S = 1800
CACHE_VERSION = 1
_OUTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")

#: One answer (or failure) per provider and place per process: "one call per session".
_memo: dict[str, LiveFigure | str] = {}


class LiveError(Exception):
    """A live figure that could not be had; the message is safe to show (no token in it)."""


class LiveFigure(NamedTuple):
    """One live intensity reading."""

    g_per_kwh: float
    at: str  # ISO time the figure is for
    source: str
    basis: str
    cached: bool = False


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """The user's cache folder for pytest-carbon (XDG on Linux, Caches on macOS, LOCALAPPDATA on Windows)."""
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / "pytest-carbon" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "pytest-carbon"
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-carbon"


def apply_live(region: Region, options: Mapping[str, Any], environ: Mapping[str, str]) -> Region:
    """The region with a live intensity when ``carbon_live`` asks for one; the yearly figure, with a note, otherwise."""
    mode = str(options.get("carbon_live") or "off").lower()
    if mode == "off":
        return region
    if mode not in DEFAULT_URLS:
        return region.with_note(f"live intensity: unknown service {mode!r}; the yearly figure is used.")
    token = environ.get(TOKEN_VARIABLE, "").strip() if mode == "electricitymaps" else ""
    try:
        figure = _figure(mode, region, options, environ, token)
    except LiveError as err:
        message = _scrub(str(err), token)
        log.info("live intensity not used: %s", message)
        return region.with_note(f"Live intensity not used: {message}; the yearly figure is used.")
    source = figure.source + (" (cached)" if figure.cached else "")
    return region._replace(
        intensity_g_per_kwh=figure.g_per_kwh,
        intensity_source=f"{source}, live at {figure.at}",
        year=_year(figure.at, region.year),
        basis=figure.basis,
        live=True,
    )


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _year(at: str, fallback: int | None) -> int | None:
    match = re.match(r"^(\d{4})-", at)
    return int(match.group(1)) if match else fallback


def _place(mode: str, region: Region, options: Mapping[str, Any]) -> str:
    if not region.known:
        raise LiveError("the region is unknown; set --carbon-region first")
    if mode == "electricitymaps":
        try:
            zone = zone_of(region)
        except RegionError:
            zone = None
        if not zone:
            raise LiveError(f"no Electricity Maps zone is known for {region.code}")
        return f"zone={zone}"
    try:
        country = country_of(region)
    except RegionError:
        country = None
    if country != "GB":
        raise LiveError(f"the UK Carbon Intensity API covers Great Britain only, not {region.code}")
    postcode = str(options.get("carbon_uk_postcode") or "").strip().upper()
    if not postcode:
        return "national"
    outcode = postcode.split()[0]
    if not _OUTCODE.match(outcode):
        raise LiveError(f"{postcode!r} does not start with a UK postcode district such as RG10")
    return f"outcode={outcode}"


def _figure(
    mode: str, region: Region, options: Mapping[str, Any], environ: Mapping[str, str], token: str
) -> LiveFigure:
    place = _place(mode, region, options)
    if mode == "electricitymaps" and not token:
        raise LiveError(f"Electricity Maps needs an API token in the {TOKEN_VARIABLE} environment variable")
    base_url = str(options.get("carbon_live_url") or DEFAULT_URLS[mode]).rstrip("/")
    key = hashlib.sha256(f"{CACHE_VERSION}|{mode}|{base_url}|{place}".encode()).hexdigest()[:20]
    if key in _memo:
        memo = _memo[key]
        if isinstance(memo, str):
            raise LiveError(memo + " (earlier in this session)")
        return memo
    cache_s = int(options.get("carbon_live_cache_s", DEFAULT_CACHE_S) or 0)
    cache_dir = Path(str(options.get("carbon_cache_dir") or "") or default_cache_dir(environ))
    cache_file = cache_dir / f"live-{key}.json"
    cached = _read_cache(cache_file, cache_s)
    if cached is not None:
        _memo[key] = cached
        return cached
    timeout_s = min(float(options.get("carbon_live_timeout_s") or MAX_TIMEOUT_S), MAX_TIMEOUT_S)
    try:
        if mode == "electricitymaps":
            figure = _electricitymaps(base_url, place, token, timeout_s)
        else:
            figure = _uk(base_url, place, timeout_s)
    except LiveError as err:
        _memo[key] = _scrub(str(err), token)
        raise
    _memo[key] = figure
    _write_cache(cache_file, figure)
    return figure


def _get(url: str, headers: Mapping[str, str], timeout_s: float, service: str) -> Any:
    try:
        import requests  # lazily: only live mode pays for it
    except ImportError:
        raise LiveError("live intensity needs the requests package (pip install requests)") from None

    try:
        response = requests.get(url, headers=dict(headers), timeout=(timeout_s / 2, timeout_s / 2))
    except requests.Timeout:
        raise LiveError(f"{service} did not answer within {timeout_s:g} s") from None
    except requests.RequestException as err:
        raise LiveError(f"{service} could not be reached ({type(err).__name__})") from None
    if response.status_code == 401 or response.status_code == 403:
        raise LiveError(f"{service} refused the request (HTTP {response.status_code}); check the API token")
    if response.status_code == 429:
        raise LiveError(f"{service} is rate-limiting this token (HTTP 429); raise carbon_live_cache_s")
    if response.status_code != 200:
        raise LiveError(f"{service} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise LiveError(f"{service} answered something that is not JSON") from None


def _number(value: Any, service: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value < 5000):
        raise LiveError(f"{service} gave no usable intensity")
    return float(value)


def _electricitymaps(base_url: str, place: str, token: str, timeout_s: float) -> LiveFigure:
    service = "Electricity Maps"
    body = _get(f"{base_url}/v3/carbon-intensity/latest?{place}", {"auth-token": token}, timeout_s, service)
    if not isinstance(body, dict):
        raise LiveError(f"{service} answered an unexpected shape")
    factor = str(body.get("emissionFactorType") or "lifecycle")
    return LiveFigure(
        g_per_kwh=_number(body.get("carbonIntensity"), service),
        at=str(body.get("datetime") or ""),
        source=f"Electricity Maps API ({body.get('zone') or place.split('=', 1)[-1]})",
        basis=f"consumption, {factor}" + (", estimated" if body.get("isEstimated") else ""),
    )


def _uk(base_url: str, place: str, timeout_s: float) -> LiveFigure:
    service = "the UK Carbon Intensity API"
    try:
        if place == "national":
            body = _get(f"{base_url}/intensity", {"Accept": "application/json"}, timeout_s, service)
            entry = body["data"][0]
            name = "Great Britain"
        else:
            outcode = place.split("=", 1)[1]
            body = _get(f"{base_url}/regional/postcode/{outcode}", {"Accept": "application/json"}, timeout_s, service)
            area = body["data"][0]
            entry = area["data"][0]
            name = f"{area.get('shortname') or 'region'}, {outcode}"
        intensity = entry["intensity"]
        value = intensity.get("actual")
        if value is None:
            value = intensity.get("forecast")
        at = str(entry.get("from") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise LiveError(f"{service} answered an unexpected shape") from None
    return LiveFigure(
        g_per_kwh=_number(value, service),
        at=at,
        source=f"UK Carbon Intensity API ({name})",
        basis="consumption in Great Britain, direct emissions",
    )


def _read_cache(path: Path, cache_s: int) -> LiveFigure | None:
    if cache_s <= 0:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION or time.time() - float(data["fetched_at"]) > cache_s:
            return None
        return LiveFigure(float(data["g_per_kwh"]), str(data["at"]), str(data["source"]), str(data["basis"]), True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_cache(path: Path, figure: LiveFigure) -> None:
    data = {
        "version": CACHE_VERSION,
        "fetched_at": time.time(),
        "g_per_kwh": figure.g_per_kwh,
        "at": figure.at,
        "source": figure.source,
        "basis": figure.basis,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        log.info("live intensity cache not written to %s (%s)", path.parent, type(err).__name__)


def forget() -> None:
    """Drop this process's memory of live answers (a new session starts afresh)."""
    _memo.clear()
