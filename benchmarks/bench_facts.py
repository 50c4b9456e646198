"""Cost of the CPU facts and cloud host lookups (``python benchmarks/bench_facts.py [PAIRS]``).

Four figures:

* one lookup by bisection, the text already read (the lru caches bypassed): median and spread of
  seven repeats of 20,000 lookups;
* for comparison, parsing the whole table into a dict, as a lookup without bisection would;
* the first lookups in a fresh process, timed inside it (reading the files included), and the first
  whole estimate after them;
* the same from outside: PAIRS alternating runs of
  ``import tdp; cpu_facts(...); cloud_host(...)`` and of ``import tdp`` alone, the median of the
  paired differences and its quartiles.
"""

from __future__ import annotations

import csv
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

from pytest_carbon.probes import tdp

DATA = Path(tdp.__file__).resolve().parent.parent / "data"
NAMES = ["AMD EPYC 7763", "Intel Core i7-1185G7", "Apple M2", "Intel Xeon Platinum 8175M", "Foo 9000"]
INSTANCES = ["m5.large", "d4ads_v5", "n2-standard-4", "nothing.here"]


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}, min {min(values):.2f}, max {max(values):.2f}"


def warm() -> None:
    """Microseconds per bisection, and milliseconds to parse each table whole."""
    tdp._facts_rows()
    tdp._hosts_rows()
    facts = [n.casefold() for n in NAMES]
    runs = 20_000

    def facts_lookup() -> None:
        for name in facts:
            tdp._facts_line(name)

    def hosts_lookup() -> None:
        rows, low = tdp._hosts_rows()
        for name in INSTANCES:
            tdp.find_row(rows, low, name)

    for label, call, count in (("cpu facts", facts_lookup, len(facts)), ("cloud host", hosts_lookup, len(INSTANCES))):
        times = [t / runs / count * 1e6 for t in timeit.repeat(call, number=runs, repeat=7)]
        print(f"{label:10s} bisection: {_spread(times)} us per lookup")
    for file in (tdp.FACTS_FILE, tdp.HOSTS_FILE):

        def parse(file: str = file) -> None:
            with open(DATA / file, newline="", encoding="utf-8") as handle:
                {row[next(iter(row))].casefold(): row for row in csv.DictReader(handle)}

        times = [t / 20 * 1e3 for t in timeit.repeat(parse, number=20, repeat=7)]
        print(f"{file:16s} parsed whole: {_spread(times)} ms")


def _run(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def cold(pairs: int) -> None:
    """Milliseconds the first lookups add to a fresh process, by paired alternating runs."""
    base = "import pytest_carbon.probes.tdp as t"
    lookup = base + "; t.cpu_facts('AMD EPYC 7763 64-Core Processor'); t.cloud_host('m5.large')"
    diffs = []
    for i in range(pairs):
        if i % 2:
            a = _run(lookup)
            b = _run(base)
        else:
            b = _run(base)
            a = _run(lookup)
        diffs.append((a - b) * 1e3)
    q1, q2, q3 = statistics.quantiles(diffs, n=4)
    print(f"first lookups in a fresh process: +{q2:.2f} ms (paired median of {pairs}; quartiles {q1:.2f} .. {q3:.2f})")


FIRST = """
import time
import pytest_carbon.probes.tdp as t
start = time.perf_counter()
t.cpu_facts("AMD EPYC 7763 64-Core Processor")
t.cloud_host("m5.large")
middle = time.perf_counter()
import pytest_carbon.probes.model as m
m.estimate("AMD EPYC 7763 64-Core Processor", 4, 1, 16.0, 0.5, virtual=True)
print((middle - start) * 1e3, (time.perf_counter() - middle) * 1e3)
"""


def first_call(runs: int) -> None:
    """Milliseconds of the first lookups (files read) and of the first whole estimate, timed inside fresh processes."""
    lookups, estimates = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", FIRST], check=True, capture_output=True, text=True).stdout
        a, b = (float(x) for x in out.split())
        lookups.append(a)
        estimates.append(b)
    print(f"first cpu_facts + cloud_host in a fresh process (files read): {_spread(lookups)} ms over {runs} runs")
    print(f"then the first estimate (model imported, coefficients read): {_spread(estimates)} ms")


def main() -> None:
    """Print all the figures."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 41
    warm()
    first_call(runs)
    cold(runs)


if __name__ == "__main__":
    main()
