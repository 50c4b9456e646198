"""CPU model names in a canonical form, and their thermal design power from the shipped table.

Vendor strings carry trademarks, clock speeds, core counts and marketing tails that the TDP table
does not ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz" is "Intel Xeon Platinum 8375C"). The
table's own names go through the same ``normalise`` when it is built, so a lookup is an exact,
case-insensitive match of two normalised names; nothing is guessed by similarity.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from typing import NamedTuple

TABLE_FILE = "cpu_tdp.csv"

_SYMBOLS = str.maketrans("®™©", "   ")
_TRADEMARKS = re.compile(r"\((?:r|tm|c)\)|[®™©]", re.IGNORECASE)
_AT_CLOCK = re.compile(r"@.*$")
_CLOCK = re.compile(r"\b\d+(?:\.\d+)?\s*[gm]hz\b", re.IGNORECASE)
_PARENS = re.compile(r"\([^)]*\)?")
_N_CORE = re.compile(r"\b\d+-cores?\b", re.IGNORECASE)
_WITH_TAIL = re.compile(r"\bwith\b.*$", re.IGNORECASE)
_GEN_PREFIX = re.compile(r"^\d+(?:st|nd|rd|th)\s+gen(?:eration)?\s+", re.IGNORECASE)
_FILLER = re.compile(r"\b(?:cpu|processor|soc)\b", re.IGNORECASE)
_NEOVERSE = re.compile(r"^(?:arm\s+)?neoverse[\s-]*([nve])\s*-?\s*(\d+)$", re.IGNORECASE)
_GRAVITON = re.compile(r"^(?:aws\s+|amazon\s+)?graviton\s*-?\s*(\d*)$", re.IGNORECASE)
_APPLE = re.compile(r"^(?:apple\s+)?(m\d+)(?:\s+(pro|max|ultra))?$", re.IGNORECASE)
# AMD's older parts appear in the table under their model number alone ("6274" is an Opteron)
_AMD_FAMILY = re.compile(
    r"^amd\s+(?:opteron|phenom\s+ii\s+x\d|phenom|athlon\s+ii\s+x\d|athlon)\s+(?=\d)", re.IGNORECASE
)


def normalise(name: str | None) -> str:
    """Canonical form of a CPU model name ("" when nothing of it is left)."""
    if not name:
        return ""
    # the symbols go first: NFKC would turn "™" into the letters "TM"
    text = unicodedata.normalize("NFKC", name.translate(_SYMBOLS))
    text = _TRADEMARKS.sub(" ", text)
    text = _AT_CLOCK.sub(" ", text)
    text = _PARENS.sub(" ", text)
    text = _WITH_TAIL.sub(" ", text)
    text = _N_CORE.sub(" ", text)
    text = _CLOCK.sub(" ", text)
    text = " ".join(text.split())
    text = _GEN_PREFIX.sub("", text)
    text = _FILLER.sub(" ", text)
    text = " ".join(text.replace(",", " ").split())
    return _special_families(text)


def _special_families(text: str) -> str:
    match = _NEOVERSE.match(text)
    if match:
        return f"ARM Neoverse {match.group(1).upper()}{match.group(2)}"
    match = _GRAVITON.match(text)
    if match:
        return f"AWS Graviton{match.group(1)}"
    match = _APPLE.match(text)
    if match:
        suffix = f" {match.group(2).capitalize()}" if match.group(2) else ""
        return f"Apple {match.group(1).upper()}{suffix}"
    return text


def key(name: str | None) -> str:
    """The lookup key: the normalised name, case-folded."""
    return normalise(name).casefold()


def _data_text(file: str) -> str:
    # straight from the package folder when it is one (importlib.resources alone costs ~10 ms to import)
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", file)
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:  # a zipped install
        pass
    from importlib import resources

    return resources.files("pytest_carbon.data").joinpath(file).read_text(encoding="utf-8")


def _table_text() -> str:
    return _data_text(TABLE_FILE)


def _check_header(header: str) -> None:
    if header.rstrip("\r") != "name,tdp_w":
        raise ValueError(f"unexpected header in {TABLE_FILE}: {header!r}")


@functools.cache
def _table() -> dict[str, float]:
    # every row, for table_size(); the names hold no comma or quote (tools/build_cpu_table.py
    # writes them), so each line splits at its last comma
    table: dict[str, float] = {}
    lines = _table_text().splitlines()
    _check_header(lines[0])
    for line in lines[1:]:
        name, _, tdp_w = line.rpartition(",")
        table[name.casefold()] = float(tdp_w)
    return table


def _sorted_rows(text: str, file: str, header: str) -> tuple[str, int]:
    # the table's text, ending in a line feed, and where its first row starts (after the header)
    header_end = text.find("\n")
    first = text if header_end < 0 else text[:header_end]
    if first.rstrip("\r") != header:
        raise ValueError(f"unexpected header in {file}: {first!r}")
    if header_end < 0:  # a header and no row
        return "", 0
    if not text.endswith("\n"):
        text += "\n"
    return text, header_end + 1


@functools.cache
def _rows() -> tuple[str, int]:
    return _sorted_rows(_table_text(), TABLE_FILE, "name,tdp_w")


def find_row(rows: str, low: int, folded: str) -> str | None:
    """The line of a sorted table whose first field, case-folded, is ``folded``; found by bisection.

    The build tools write one row per case-folded first field, sorted by it, with no comma or
    quote inside a field: a binary search over the text reads about a dozen lines of a few
    thousand (microseconds; parsing them all into a dict first took milliseconds).
    """
    high = len(rows)  # line starts in [low, high) are still candidates
    while low < high:
        middle = (low + high) // 2
        start = rows.rfind("\n", low, middle)
        start = low if start < 0 else start + 1
        end = rows.find("\n", start)
        line = rows[start:end]
        here = line.partition(",")[0].casefold()
        if here == folded:
            return line
        if here < folded:
            low = end + 1
        else:
            high = start
    return None


def _tdp_of(folded: str) -> float | None:
    """The TDP on the row whose case-folded name is ``folded``, found without parsing the table."""
    rows, low = _rows()
    line = find_row(rows, low, folded)
    return None if line is None else float(line.rpartition(",")[2])


@functools.lru_cache(maxsize=256)
def lookup(name: str | None) -> tuple[str, float | None]:
    """Normalised name and its TDP per socket in watts (None when the table does not have it)."""
    normal = normalise(name)
    if not normal:
        return normal, None
    found = _tdp_of(normal.casefold())
    if found is None:
        bare = _AMD_FAMILY.sub("", normal)
        if bare != normal:
            found = _tdp_of(bare.casefold())
    return normal, found


def table_size() -> int:
    """Number of CPU models in the shipped table."""
    return len(_table())


FACTS_FILE = "cpu_facts.csv"
FACTS_HEADER = "name,vendor,year,year_source,cores,threads,tdp_w"
HOSTS_FILE = "cloud_hosts.csv"
HOSTS_HEADER = "instance,provider,vcpu,memory_gb,host_cpu,host_sockets,host_threads_per_socket,host_ram_gb,checked"


class CpuFacts(NamedTuple):
    """What the facts table knows of one CPU model (None where it does not)."""

    name: str
    vendor: str
    year: int | None
    year_source: str
    cores: int | None  # per socket
    threads: int | None  # per socket
    tdp_w: float | None


class CloudHost(NamedTuple):
    """The host platform of a cloud instance type."""

    instance: str
    provider: str
    vcpu: int
    memory_gb: float | None
    host_cpu: str
    host_sockets: int
    host_threads_per_socket: int | None
    host_ram_gb: float | None
    checked: str  # what the build tool replaced or dropped, "" when nothing


def _opt_int(text: str) -> int | None:
    return int(text) if text else None


def _opt_float(text: str) -> float | None:
    return float(text) if text else None


@functools.cache
def _facts_rows() -> tuple[str, int]:
    return _sorted_rows(_data_text(FACTS_FILE), FACTS_FILE, FACTS_HEADER)


@functools.cache
def _hosts_rows() -> tuple[str, int]:
    return _sorted_rows(_data_text(HOSTS_FILE), HOSTS_FILE, HOSTS_HEADER)


def _facts_line(folded: str) -> CpuFacts | None:
    rows, low = _facts_rows()
    line = find_row(rows, low, folded)
    if line is None:
        return None
    name, vendor, year, year_source, cores, threads, tdp_w = line.split(",")
    return CpuFacts(name, vendor, _opt_int(year), year_source, _opt_int(cores), _opt_int(threads), _opt_float(tdp_w))


@functools.lru_cache(maxsize=256)
def cpu_facts(name: str | None) -> CpuFacts | None:
    """The facts table's row for this CPU model as a machine reports it, or None."""
    normal = normalise(name)
    if not normal:
        return None
    found = _facts_line(normal.casefold())
    if found is None:
        bare = _AMD_FAMILY.sub("", normal)
        if bare != normal:
            found = _facts_line(bare.casefold())
    return found


def instance_key(name: str | None) -> str:
    """An instance type's lookup key: case-folded, without Azure's "Standard_" prefix."""
    text = (name or "").strip().casefold()
    return text.removeprefix("standard_")


@functools.lru_cache(maxsize=64)
def cloud_host(instance: str | None) -> CloudHost | None:
    """The host platform of a cloud instance type ("m5.large", "Standard_D4ads_v5"), or None."""
    folded = instance_key(instance)
    if not folded or "," in folded:
        return None
    rows, low = _hosts_rows()
    line = find_row(rows, low, folded)
    if line is None:
        return None
    key_, provider, vcpu, memory, host_cpu, sockets, threads, host_ram, checked = line.split(",")
    return CloudHost(
        key_,
        provider,
        int(vcpu),
        _opt_float(memory),
        host_cpu,
        int(sockets),
        _opt_int(threads),
        _opt_float(host_ram),
        checked,
    )
