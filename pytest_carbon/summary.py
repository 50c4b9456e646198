r"""The terminal summary, rendered from the report dict (like ``--durations``).

Every line is made printable first (``printable``): a node id, a note or a path that holds a
newline, a carriage return or an escape sequence shows it as ``\n``, ``\r``, ``\x1b``, so no
text from a test's name can start a line of its own (a CI workflow command such as ``::error``)
or move the cursor.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_carbon.probes.bands import band_text, probe_band_text
from pytest_carbon.reports.text import probe_text, region_text
from pytest_carbon.units import format_co2, format_energy

#: C0 and C1 control characters, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text: str) -> str:
    r"""``text`` with its control characters written as escapes (``\n``, ``\x1b``, ``\u2028``): one terminal line."""
    return text if text.isprintable() else _CONTROL.sub(_escape, text)


#: ``--carbon-sort``: the key of a test entry and how the heading names it
SORT_KEYS: dict[str, tuple[str, str]] = {
    "dynamic": ("dynamic_energy_j", "dynamic energy (above idle)"),
    "energy": ("energy_j", "energy"),
    "co2": ("co2_g", "CO2e"),
    "duration": ("duration_s", "duration"),
    "cpu": ("cpu_time_s", "CPU time"),
}
#: the default of ``--carbon-sort``: the work a test does, so that a test that waits (sleeps, I/O)
#: does not rank above one that computes only because the machine's idle power ran longer
DEFAULT_SORT = "dynamic"


def plural(count: int, word: str, words: str | None = None) -> str:
    """The count and the word it counts, singular for one: "1 test", "2 tests"."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def ranked(tests: list[dict[str, Any]], sort: str = DEFAULT_SORT) -> list[dict[str, Any]]:
    """The tests, the highest first by ``sort`` (ties: energy, then node id)."""
    key = SORT_KEYS[sort][0]
    return sorted(tests, key=lambda t: (-float(t.get(key) or 0.0), -float(t.get("energy_j") or 0.0), t["nodeid"]))


def _bare(nodeid: str) -> list[str]:
    """The parts of a node id, the parameters (which may hold "::") kept with the last part."""
    head, bracket, params = nodeid.partition("[")
    parts = head.split("::")
    parts[-1] += bracket + params
    return parts


def group_of(entry: dict[str, Any], by: str) -> str:
    """The group of a test for ``--carbon-group-by``: its file, its class (file::Class), or its module."""
    parts = _bare(str(entry["nodeid"]))
    path = str(entry.get("file") or parts[0]) if by != "class" else parts[0]
    if by == "file":
        return path
    if by == "module":
        module = path[:-3] if path.endswith(".py") else path
        return module.replace("/", ".").replace("\\", ".")
    classes = parts[1:-1]
    return "::".join([parts[0], *classes]) if classes else f"{parts[0]} (functions)"


def group_lines(tests: list[dict[str, Any]], by: str, sort: str = DEFAULT_SORT) -> list[str]:
    """Totals of the tests by ``by`` (file, class or module), the highest first by ``sort``."""
    groups: dict[str, dict[str, Any]] = {}
    for entry in tests:
        name = group_of(entry, by)
        total = groups.setdefault(name, {"nodeid": name, "count": 0, **{k: 0.0 for k, _ in SORT_KEYS.values()}})
        total["count"] += 1
        for key, _ in SORT_KEYS.values():
            total[key] += float(entry.get(key) or 0.0)
    if not groups:
        return []
    rows = ranked(list(groups.values()), sort)
    width = max(len(format_energy(g["energy_j"])) for g in rows)
    noun = plural(len(rows), by, "classes" if by == "class" else None)
    lines = [f"totals by {by} ({noun}), by {SORT_KEYS[sort][1]}:"]
    for g in rows:
        lines.append(
            f"  {format_energy(g['energy_j']).rjust(width)}  dyn {format_energy(g['dynamic_energy_j']):>9}  "
            f"{format_co2(g['co2_g']):>10}  {g['duration_s']:8.2f} s  cpu {g['cpu_time_s']:8.2f} s  "
            f"{plural(g['count'], 'test'):>9}  {g['nodeid']}"
        )
    return lines


def summary_lines(
    report: dict[str, Any],
    *,
    verbosity: int = 0,
    top: int = 10,
    sort: str = DEFAULT_SORT,
    group_by: str = "",
) -> list[str]:
    """Lines of the summary: one line under -q, the totals and top tests by default, more under -v."""
    session = report["session"]
    tests = report["tests"]
    head = (
        f"carbon: {format_co2(session['co2_g'])} CO2e, {format_energy(session['energy_j'])}"
        f"{band_text(session.get('band'))} "
        f"over {session['duration_s']:.2f} s, {plural(len(tests), 'test')}"
    )
    if not report.get("complete", True):
        head += " (incomplete: the session was cut short)"
    if verbosity < 0:
        region = report.get("region") or {}
        where = region.get("code") if region.get("known", True) else "region unknown"
        return [printable(f"{head}; {where}")]
    lines = [head]
    lines.append("region: " + region_text(report.get("region") or {}))
    probes = report["machine"].get("probes", [])
    lines.append("probes: " + ("; ".join(probe_text(p, probe_band_text(p)) for p in probes) or "none"))
    comps = session["components_j"]
    lines.append(
        "energy: tests "
        + format_energy(session["tests_energy_j"])
        + ", remainder (collection, plugin work, gaps) "
        + format_energy(session["unattributed_energy_j"])
        + "; cpu "
        + format_energy(comps.get("cpu", 0.0))
        + ", ram "
        + format_energy(comps.get("ram", 0.0))
        + ", gpu "
        + format_energy(comps.get("gpu", 0.0))
        + f"; scope {report.get('scope')}"
    )
    if verbosity > 0:
        from pytest_carbon.equivalents import equivalents_text, sources_text

        lines.append("equivalent to: " + equivalents_text(float(session["energy_j"]), float(session["co2_g"])))
        lines.append("  sources: " + sources_text())
    for why in report.get("missing", []):
        lines.append(f"missing: {why}")
    count = len(tests) if verbosity > 1 else top
    if count and tests:
        shown = ranked(tests, sort)[:count]
        if len(tests) == 1:
            what = "1 test"
        elif len(shown) == len(tests):
            what = f"all {len(tests)} tests"
        else:
            what = f"top {len(shown)} of {len(tests)} tests"
        lines.append(f"{what} by {SORT_KEYS[sort][1]}:")
        width = max(len(format_energy(t["energy_j"])) for t in shown)
        for t in shown:
            extra = ""
            if verbosity > 0:
                c = t["components_j"]
                extra = (
                    f"  [cpu {format_energy(c.get('cpu', 0.0))}, ram {format_energy(c.get('ram', 0.0))}, "
                    f"gpu {format_energy(c.get('gpu', 0.0))}]"
                )
            dyn = format_energy(t.get("dynamic_energy_j") or 0.0)
            lines.append(
                f"  {format_energy(t['energy_j']).rjust(width)}  dyn {dyn:>9}  {format_co2(t['co2_g']):>10}  "
                f"{t['duration_s'] * 1e3:8.2f} ms  cpu {t['cpu_time_s'] * 1e3:8.2f} ms  "
                f"{t['outcome']:<8} {t['nodeid']}{extra}"
            )
    if group_by and tests:
        lines += group_lines(tests, group_by, sort)
    return [printable(line) for line in lines]
