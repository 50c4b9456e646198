"""CPU model names in a canonical form, and their thermal design power from the shipped table.

Vendor strings carry trademarks, clock speeds, core counts and marketing tails that the TDP table
does not ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz" is "Intel Xeon Platinum 8375C"). The
table's own names go through the same ``normalise`` when it is built, so a lookup is an exact,
case-insensitive match of two normalised names; nothing is guessed by similarity.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

TABLE_FILE = "cpu_tdp.csv"

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
    text = unicodedata.normalize("NFKC", re.sub("[®™©]", " ", name))
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


def _table_text() -> str:
    # straight from the package folder when it is one (importlib.resources alone costs ~10 ms to import)
    path = Path(__file__).resolve().parent.parent / "data" / TABLE_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("pytest_carbon.data").joinpath(TABLE_FILE).read_text(encoding="utf-8")


@functools.cache
def _table() -> dict[str, float]:
    # loaded on first lookup only; the names hold no comma or quote (tools/build_cpu_table.py
    # writes them), so each line splits at its last comma
    table: dict[str, float] = {}
    lines = _table_text().splitlines()
    if lines[0] != "name,tdp_w":
        raise ValueError(f"unexpected header in {TABLE_FILE}: {lines[0]!r}")
    for line in lines[1:]:
        name, _, tdp_w = line.rpartition(",")
        table[name.casefold()] = float(tdp_w)
    return table


@functools.lru_cache(maxsize=256)
def lookup(name: str | None) -> tuple[str, float | None]:
    """Normalised name and its TDP per socket in watts (None when the table does not have it)."""
    normal = normalise(name)
    if not normal:
        return normal, None
    table = _table()
    found = table.get(normal.casefold())
    if found is None:
        bare = _AMD_FAMILY.sub("", normal)
        if bare != normal:
            found = table.get(bare.casefold())
    return normal, found


def table_size() -> int:
    """Number of CPU models in the shipped table."""
    return len(_table())
