"""Opt-in live grid intensity: Electricity Maps or the UK Carbon Intensity API, one call a session.

Every failure (no token, refused, rate-limited, slow, malformed) falls back to the yearly figure
with a note saying why. The token travels only in the request header: it is never put into a
Region, a note, a log line or an error message.

The whole request (connect, headers, body) has one deadline, 2 s at most: it runs in a daemon
thread that is abandoned at the deadline, so a server that trickles its answer cannot stretch the
run. Redirects are never followed (a redirect is a failure that names no address), so the token
goes to the configured host only. Every value taken from an answer is checked (the zone is the one
asked for, the intensity a finite number of 0 to 2000 g/kWh, the time an ISO time, the other text
from a short list) and scrubbed of the token before it is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pytest_carbon.errors import LiveError as LiveError
from pytest_carbon.intensity.regions import Region, RegionError, country_of, zone_of

log = logging.getLogger("pytest_carbon.intensity")

TOKEN_VARIABLE = "ELECTRICITYMAPS_API_TOKEN"
DEFAULT_URLS = {
    "electricitymaps": "https://api.electricitymap.org",
    "uk-carbon-intensity": "https://api.carbonintensity.org.uk",
}
MAX_TIMEOUT_S = 2.0
DEFAULT_CACHE_S = 1800
#: 2: values are checked and scrubbed before they are cached (a version-1 cache is not trusted)
CACHE_VERSION = 2
#: the most an answer may weigh; the documented answers are under 2 KB
MAX_BODY_BYTES = 256 * 1024
#: the plausible range of a grid's intensity, g/kWh (the dirtiest grids are near 1,100)
MAX_INTENSITY = 2000.0
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
_FACTOR_TYPES = ("lifecycle", "direct")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_OUTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")

#: One answer (or failure) per provider and place per process: "one call per session".
_memo: dict[str, LiveFigure | str] = {}


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


def apply_live(
    region: Region,
    environ: Mapping[str, str],
    *,
    service: str = "off",
    url: str | None = None,
    uk_postcode: str | None = None,
    cache_s: int = DEFAULT_CACHE_S,
    cache_dir: str | None = None,
    timeout_s: float = MAX_TIMEOUT_S,
) -> Region:
    """The region with a live intensity when ``service`` asks for one; the yearly figure, with a note, otherwise.

    ``service``, ``url`` (None: the service's own), ``uk_postcode``, ``cache_s`` (0: no cache) and
    ``cache_dir`` (None: the user's cache folder) are the options carbon_live, carbon_live_url,
    carbon_uk_postcode, carbon_live_cache_s and carbon_cache_dir; ``timeout_s`` (at most
    ``MAX_TIMEOUT_S``) is for tests.
    """
    mode = service
    if mode == "off":
        return region
    if mode not in DEFAULT_URLS:
        return region.with_note(f"live intensity: unknown service {mode!r}; the yearly figure is used.")
    token = environ.get(TOKEN_VARIABLE, "").strip() if mode == "electricitymaps" else ""
    try:
        where = _Where(url or DEFAULT_URLS[mode], uk_postcode, cache_s, cache_dir, min(timeout_s, MAX_TIMEOUT_S))
        figure = _figure(mode, region, where, environ, token)
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


class _Where(NamedTuple):
    """Where a live figure is asked for and kept."""

    base_url: str
    uk_postcode: str | None
    cache_s: int
    cache_dir: str | None
    timeout_s: float


def _place(mode: str, region: Region, uk_postcode: str | None) -> str:
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
    postcode = (uk_postcode or "").strip().upper()
    if not postcode:
        return "national"
    outcode = postcode.split()[0]
    if not _OUTCODE.match(outcode):
        raise LiveError(f"{postcode!r} does not start with a UK postcode district such as RG10")
    return f"outcode={outcode}"


def _figure(mode: str, region: Region, where: _Where, environ: Mapping[str, str], token: str) -> LiveFigure:
    place = _place(mode, region, where.uk_postcode)
    if mode == "electricitymaps" and not token:
        raise LiveError(f"Electricity Maps needs an API token in the {TOKEN_VARIABLE} environment variable")
    base_url = where.base_url.rstrip("/")
    key = hashlib.sha256(f"{CACHE_VERSION}|{mode}|{base_url}|{place}".encode()).hexdigest()[:20]
    if key in _memo:
        memo = _memo[key]
        if isinstance(memo, str):
            raise LiveError(memo + " (earlier in this session)")
        return memo
    cache_dir = Path(where.cache_dir or default_cache_dir(environ))
    cache_file = cache_dir / f"live-{key}.json"
    cached = _read_cache(cache_file, where.cache_s, token)
    if cached is not None:
        _memo[key] = cached
        return cached
    timeout_s = where.timeout_s
    try:
        if mode == "electricitymaps":
            figure = _electricitymaps(base_url, place, token, timeout_s)
        else:
            figure = _uk(base_url, place, timeout_s)
        if token and any(token in text for text in (figure.at, figure.source, figure.basis)):
            raise LiveError("the answer holds the API token; it is not used")  # checked fields make it unlikely
    except LiveError as err:
        _memo[key] = _scrub(str(err), token)
        raise
    _memo[key] = figure
    _write_cache(cache_file, figure)
    return figure


def _get(url: str, headers: Mapping[str, str], timeout_s: float, service: str) -> Any:
    """The JSON answer at ``url``, within ``timeout_s`` for the whole request; LiveError otherwise.

    The request runs in a daemon thread: at the deadline it is abandoned (whatever it receives
    later is dropped), so no server, however slowly it trickles, holds the run longer.
    """
    try:
        import requests  # lazily: only live mode pays for it
    except ImportError:
        raise LiveError("live intensity needs the requests package (pip install requests)") from None

    deadline = time.monotonic() + timeout_s
    outcome: list[Any] = []
    done = threading.Event()

    def fetch() -> None:
        try:
            outcome.append(_fetch(requests, url, headers, deadline, service))
        except LiveError as err:
            outcome.append(err)
        except BaseException as err:  # nothing may escape the thread
            outcome.append(LiveError(f"{service} could not be reached ({type(err).__name__})"))
        finally:
            done.set()

    threading.Thread(target=fetch, name="pytest-carbon-live", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())) or not outcome:
        raise LiveError(f"{service} did not answer within {timeout_s:g} s")
    result = outcome[0]
    if isinstance(result, LiveError):
        raise result
    return result


def _fetch(requests: Any, url: str, headers: Mapping[str, str], deadline: float, service: str) -> Any:
    """One GET, redirects not followed, the body read up to the deadline and ``MAX_BODY_BYTES``."""

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LiveError(f"{service} did not answer in time")
        return remaining

    try:
        response = requests.get(
            url, headers=dict(headers), timeout=(left(), left()), allow_redirects=False, stream=True
        )
    except requests.Timeout:
        raise LiveError(f"{service} did not answer in time") from None
    except requests.RequestException as err:
        raise LiveError(f"{service} could not be reached ({type(err).__name__})") from None
    with response:
        status = int(response.status_code)
        if status in (401, 403):
            raise LiveError(f"{service} refused the request (HTTP {status}); check the API token")
        if status == 429:
            raise LiveError(f"{service} is rate-limiting this token (HTTP 429); raise carbon_live_cache_s")
        if 300 <= status < 400:
            raise LiveError(
                f"{service} answered with a redirect (HTTP {status}), which is not followed so that the token "
                "goes to no other host; set carbon_live_url to the service's own address"
            )
        if status != 200:
            raise LiveError(f"{service} answered HTTP {status}")
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=4096):
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise LiveError(f"{service} answered more than {MAX_BODY_BYTES // 1024} KiB")
                left()
        except requests.RequestException as err:
            raise LiveError(f"{service} broke off its answer ({type(err).__name__})") from None
    try:
        return json.loads(bytes(body).decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise LiveError(f"{service} answered something that is not JSON") from None


def _number(value: Any, service: str) -> float:
    """The intensity, a finite number in the plausible range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value <= MAX_INTENSITY):
        raise LiveError(f"{service} gave no usable intensity (a number of 0 to {MAX_INTENSITY:g} g/kWh)")
    return float(value)


def _time(value: Any, service: str) -> str:
    """The time a figure is for: an ISO time, or refused."""
    if not isinstance(value, str) or not _ISO_TIME.match(value):
        raise LiveError(f"{service} gave no usable time for its figure")
    return value


def _clean(value: Any, token: str, limit: int = 60) -> str:
    """A text taken from an answer: the token scrubbed, control characters dropped, ``limit`` characters at most."""
    text = _CONTROL.sub("", _scrub(str(value), token)) if value is not None else ""
    return text[:limit].strip()


def _electricitymaps(base_url: str, place: str, token: str, timeout_s: float) -> LiveFigure:
    service = "Electricity Maps"
    body = _get(f"{base_url}/v3/carbon-intensity/latest?{place}", {"auth-token": token}, timeout_s, service)
    if not isinstance(body, dict):
        raise LiveError(f"{service} answered an unexpected shape")
    zone = place.split("=", 1)[-1]
    if "zone" in body and body["zone"] != zone:
        raise LiveError(f"{service} answered for another zone than {zone}")
    factor = body.get("emissionFactorType", "lifecycle")
    if factor not in _FACTOR_TYPES:
        raise LiveError(f"{service} gave an unknown emission factor type (expected lifecycle or direct)")
    estimated = body.get("isEstimated", False)
    if not isinstance(estimated, bool) and estimated is not None:
        raise LiveError(f"{service} answered an unexpected shape (isEstimated)")
    return LiveFigure(
        g_per_kwh=_number(body.get("carbonIntensity"), service),
        at=_time(body.get("datetime"), service),
        source=f"Electricity Maps API ({zone})",
        basis=f"consumption, {factor}" + (", estimated" if estimated else ""),
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
            name = f"{_clean(area.get('shortname'), '') or 'region'}, {outcode}"
        intensity = entry["intensity"]
        value = intensity.get("actual")
        if value is None:
            value = intensity.get("forecast")
        at = entry.get("from")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise LiveError(f"{service} answered an unexpected shape") from None
    return LiveFigure(
        g_per_kwh=_number(value, service),
        at=_time(at, service),
        source=f"UK Carbon Intensity API ({name})",
        basis="consumption in Great Britain, direct emissions",
    )


def _read_cache(path: Path, cache_s: int, token: str) -> LiveFigure | None:
    """A cached figure still fresh, checked as an answer is; None for anything else."""
    if cache_s <= 0:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION or time.time() - float(data["fetched_at"]) > cache_s:
            return None
        texts = [str(data[key]) for key in ("at", "source", "basis")]
        if token and any(token in text for text in texts):
            return None
        at, source, basis = texts
        return LiveFigure(_number(data["g_per_kwh"], "the cache"), _time(at, "the cache"), source, basis, True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, LiveError):
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
