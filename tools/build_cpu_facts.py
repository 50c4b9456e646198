"""Build the CPU facts table and the cloud instance host table under ``pytest_carbon/data/``.

Usage: ``python tools/build_cpu_facts.py [SOURCES] [--check]``

Inputs in SOURCES (default ``../shared/sources``):

* ``cpu_specs_techpowerup.csv``: CPU models with vendor, code name, release date, TDP, cores and
  threads (TechPowerUp CPU database via Boavizta). Written to ``cpu_facts.csv`` as
  ``name,vendor,year,year_source,cores,threads,tdp_w``, one row per normalised, case-folded name,
  sorted by it, so that the plugin finds a row by bisecting the text without parsing it.
* ``cloud_instances_boavizta.csv``: cloud instance types with vCPUs, memory and the host
  platform (Boavizta's cloud archetypes). Written to ``cloud_hosts.csv`` as
  ``instance,provider,vcpu,memory_gb,host_cpu,host_sockets,host_threads_per_socket,host_ram_gb,checked``.

Odd rows are checked, not trusted:

* a TDP of 0 or none is left empty (the TDP table of ``tools/build_cpu_table.py`` may still know it);
  threads below cores, or none, are left empty;
* a release year is the year of the release date; rows without a date take the median year of the
  dated rows of the same code name, else the launch year of the code name from ``CODE_NAME_YEARS``
  (the vendors' launch dates of each family), else stay empty;
* a host's threads per socket that disagree with the CPU facts (GCP's n2 "144" on a 72-thread part)
  are replaced by the facts' figure; a host memory above ``MAX_GB_PER_SOCKET`` per socket (GCP's
  65,536 GB) or below the instance's own memory is dropped (the model then scales the instance's
  memory per vCPU to the host).

What was dropped or replaced is counted in the output of the script and in each row's ``checked`` column.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_carbon.probes.tdp import instance_key, normalise  # noqa: E402

DEFAULT_SOURCES = REPO.parent / "shared" / "sources"
OUT_DIR = REPO / "pytest_carbon" / "data"
FACTS_SOURCE = "cpu_specs_techpowerup.csv"
HOSTS_SOURCE = "cloud_instances_boavizta.csv"
#: the most memory one socket of any listed host platform takes (AMD EPYC 9004: 6 TB per socket)
MAX_GB_PER_SOCKET = 6144.0

#: launch year of a code name whose rows carry no release date: (code name, model range prefix) -> year.
#: Server parts of a family launched later than its client parts, so they are listed apart; the
#: range prefix "" is the family's first (client) launch.
CODE_NAME_YEARS: dict[tuple[str, str], int] = {
    ("Sandy Bridge", ""): 2011,
    ("Sandy Bridge", "Xeon E5"): 2012,
    ("Ivy Bridge", ""): 2012,
    ("Ivy Bridge", "Xeon E5"): 2013,
    ("Ivy Bridge", "Xeon E7"): 2014,
    ("Haswell", ""): 2013,
    ("Haswell", "Xeon E5"): 2014,
    ("Haswell", "Xeon E7"): 2015,
    ("Broadwell", ""): 2015,
    ("Broadwell", "Xeon E5"): 2016,
    ("Broadwell", "Xeon E7"): 2016,
    ("Skylake", ""): 2015,
    ("Skylake", "Xeon Platinum"): 2017,
    ("Skylake", "Xeon Gold"): 2017,
    ("Skylake", "Xeon Silver"): 2017,
    ("Skylake", "Xeon Bronze"): 2017,
    ("Skylake", "Xeon D"): 2018,
    ("Coffee Lake", ""): 2017,
    ("Cascade Lake", ""): 2019,
    ("Ice Lake", ""): 2019,
    ("Naples", ""): 2017,
    ("Rome", ""): 2019,
    ("Milan", ""): 2021,
    ("Genoa", ""): 2022,
    ("Sapphire Rapids", ""): 2023,
}
#: names as the table writes them -> as a machine reports them (through normalise)
ALIASES = {
    "annapurna labs graviton": "AWS Graviton",
    "annapurna labs graviton2": "AWS Graviton2",
    "annapurna labs graviton3": "AWS Graviton3",
    "annapurna labs graviton3e": "AWS Graviton3E",
    "annapurna labs graviton4": "AWS Graviton4",
}

# the attributions of both tables are in pytest_carbon/data/NOTICE, written by tools/build_cpu_table.py


def _int(text: str) -> int | None:
    try:
        value = int(float(text))
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _code_year(code: str, model_range: str, dated: dict[str, list[int]]) -> int | None:
    if dated.get(code):
        return int(statistics.median_low(dated[code]))
    best: int | None = None
    best_len = -1
    for (name, prefix), year in CODE_NAME_YEARS.items():
        if name == code and model_range.startswith(prefix) and len(prefix) > best_len:
            best, best_len = year, len(prefix)
    return best


def _vendor(manufacturer: str, name: str) -> str:
    text = (manufacturer or name.split(" ", 1)[0]).strip()
    low = text.casefold()
    if low.startswith("intel"):
        return "intel"
    if low.startswith("amd"):
        return "amd"
    if low.startswith("apple"):
        return "apple"
    return "arm" if low in ("annapurna labs", "ampere", "google", "arm") else low or "unknown"


def build_facts(source: Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Rows of the facts table by folded name, and counts of what was checked."""
    with source.open(newline="", encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    dated: dict[str, list[int]] = defaultdict(list)
    for row in raw:
        if row["release_date"][:4].isdigit() and row["code_name"]:
            dated[row["code_name"]].append(int(row["release_date"][:4]))
    counts = {"rows": len(raw), "no_tdp": 0, "bad_threads": 0, "year_from_code_name": 0, "no_year": 0, "merged": 0}
    out: dict[str, list[str]] = {}
    for row in raw:
        name = ALIASES.get(row["name"].casefold(), row["name"])
        normal = normalise(name)
        if not normal or "," in normal or '"' in normal:
            continue
        tdp_w = _float(row["tdp_w"])
        counts["no_tdp"] += tdp_w is None
        cores, threads = _int(row["cores"]), _int(row["threads"])
        if threads is not None and cores is not None and threads < cores:
            threads = None
        counts["bad_threads"] += threads is None
        year: int | None = None
        year_source = ""
        if row["release_date"][:4].isdigit():
            year, year_source = int(row["release_date"][:4]), "release date"
        else:
            year = _code_year(row["code_name"], row["model_range"], dated)
            if year is not None:
                year_source = "code name"
                counts["year_from_code_name"] += 1
        counts["no_year"] += year is None
        folded = normal.casefold()
        fields = [
            normal,
            _vendor(row["manufacturer"], normal),
            "" if year is None else str(year),
            year_source,
            "" if cores is None else str(cores),
            "" if threads is None else str(threads),
            "" if tdp_w is None else f"{tdp_w:g}",
        ]
        if folded in out:
            counts["merged"] += 1
            # keep the row that says more
            if sum(1 for f in out[folded] if f) >= sum(1 for f in fields if f):
                continue
        out[folded] = fields
    return out, counts


def build_hosts(source: Path, facts: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Rows of the host table by instance key, and counts of what was checked."""
    counts = {"rows": 0, "no_host_cpu": 0, "threads_from_facts": 0, "threads_replaced": 0, "ram_dropped": 0}
    counts.update({"cpu_not_in_facts": 0, "duplicate": 0})
    out: dict[str, list[str]] = {}
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            counts["rows"] += 1
            host = normalise(ALIASES.get(row["host_cpu"].casefold(), row["host_cpu"]))
            vcpu = _int(row["vcpu"])
            if not host or vcpu is None or "," in host:
                counts["no_host_cpu"] += 1
                continue
            checked: list[str] = []
            sockets = _int(row["host_sockets"]) or 1
            fact = facts.get(host.casefold())
            fact_threads = _int(fact[5]) if fact else None
            if fact is None:
                counts["cpu_not_in_facts"] += 1
            given = _int(row["host_threads_per_socket"])
            threads = given
            if fact_threads is not None and given != fact_threads:
                if given is None:
                    counts["threads_from_facts"] += 1
                    checked.append("threads from facts")
                else:
                    counts["threads_replaced"] += 1
                    checked.append(f"threads {given} replaced by facts")
                threads = fact_threads
            if threads is not None and vcpu > threads * sockets:
                checked.append(f"{vcpu} vCPUs over {threads * sockets} host threads: host taken as the instance")
                threads = -(-vcpu // sockets)
            memory = _float(row["memory_gb"])
            host_ram = _float(row["host_ram_gb"])
            if host_ram is not None and (
                host_ram > MAX_GB_PER_SOCKET * sockets or (memory is not None and host_ram < memory)
            ):
                counts["ram_dropped"] += 1
                checked.append(f"host memory {host_ram:g} GB dropped")
                host_ram = None
            key = instance_key(row["instance"])
            if key in out:
                counts["duplicate"] += 1
                continue
            out[key] = [
                key,
                row["provider"],
                str(vcpu),
                "" if memory is None else f"{memory:g}",
                host,
                str(sockets),
                "" if threads is None else str(threads),
                "" if host_ram is None else f"{host_ram:g}",
                "; ".join(checked),
            ]
    return out, counts


def _csv(header: list[str], rows: dict[str, list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for folded in sorted(rows):
        fields = rows[folded]
        if any("," in f or '"' in f for f in fields):
            # the plugin splits lines at commas, without a CSV parser
            raise SystemExit(f"a field with a comma or a quote cannot be shipped: {fields!r}")
        writer.writerow(fields)
    return out.getvalue()


def build(sources: Path) -> tuple[dict[Path, str], dict[str, dict[str, int]]]:
    """The files to write and the counts of what was checked."""
    facts, fact_counts = build_facts(sources / FACTS_SOURCE)
    hosts, host_counts = build_hosts(sources / HOSTS_SOURCE, facts)
    files = {
        OUT_DIR / "cpu_facts.csv": _csv(["name", "vendor", "year", "year_source", "cores", "threads", "tdp_w"], facts),
        OUT_DIR / "cloud_hosts.csv": _csv(
            [
                "instance",
                "provider",
                "vcpu",
                "memory_gb",
                "host_cpu",
                "host_sockets",
                "host_threads_per_socket",
                "host_ram_gb",
                "checked",
            ],
            hosts,
        ),
    }
    fact_counts["shipped"] = len(facts)
    host_counts["shipped"] = len(hosts)
    return files, {"facts": fact_counts, "hosts": host_counts}


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the two tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="?", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files differ")
    args = parser.parse_args(argv)
    for name in (FACTS_SOURCE, HOSTS_SOURCE):
        if not (args.sources / name).is_file():
            print(f"build_cpu_facts: {args.sources / name} not found; pass the sources folder", file=sys.stderr)
            return 2
    files, counts = build(args.sources)
    if args.check:
        stale = [str(p) for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    print(counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
