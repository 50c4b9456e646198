"""Overhead of ``--carbon`` on a suite of trivial tests: time per test, start-up, memory per test.

Runs plain pytest and ``pytest --carbon`` alternately on generated suites and reports medians:

    python benchmarks/bench_overhead.py                 # 5,000 tests, 7 rounds, memory at 100,000
    python benchmarks/bench_overhead.py --tests 1000 --rounds 3 --memory-tests 0

Added time per test = (median with - median without, on N tests - the same difference on 1 test) / N.
Added memory per test = (peak RSS with - peak RSS without, on M tests) / M.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Bytecode caches on, as on a developer's machine or a CI runner: without them every run recompiles
# (and assertion-rewrites) the plugin's modules, which is not what users pay.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def make_suite(folder: Path, tests: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    per_file = 1000
    for start in range(0, tests, per_file):
        count = min(per_file, tests - start)
        body = "\n".join(f"def test_{i}():\n    pass\n" for i in range(start, start + count))
        (folder / f"test_gen_{start // per_file:04d}.py").write_text(body)


def run(folder: Path, carbon: bool) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one pytest run."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(folder)]
    if carbon:
        args[3:3] = ["--carbon", f"--carbon-json={folder / 'carbon.json'}", "--carbon-region=FR"]
    start = time.perf_counter()
    quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, 1, 2)]
    pid = os.posix_spawn(args[0], args, ENV, file_actions=quiet)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pytest failed: {' '.join(args)}")
    return elapsed, usage.ru_maxrss


def timings(folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    run(folder, False)  # warm the bytecode and file caches
    run(folder, True)
    plain: list[float] = []
    metered: list[float] = []
    for _ in range(rounds):
        plain.append(run(folder, False)[0])
        metered.append(run(folder, True)[0])
    return plain, metered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--memory-tests", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Run from the temporary folder: `python -m pytest` puts the working directory first on sys.path,
        # and from a checkout that would import the source tree instead of the installed package.
        os.chdir(tmp)
        one, many = Path(tmp, "one"), Path(tmp, "many")
        make_suite(one, 1)
        make_suite(many, args.tests)
        one_runs = timings(one, args.rounds)
        many_runs = timings(many, args.rounds)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} alternated rounds")
        for label, pick in (("median", statistics.median), ("minimum", min)):
            p1, m1 = pick(one_runs[0]), pick(one_runs[1])
            pn, mn = pick(many_runs[0]), pick(many_runs[1])
            per_test_us = ((mn - pn) - (m1 - p1)) / args.tests * 1e6
            print(
                f"{label:>7}: 1 test plain {p1:.3f} s, --carbon {m1:.3f} s -> start-up {(m1 - p1) * 1e3:+.1f} ms; "
                f"{args.tests} tests plain {pn:.3f} s, --carbon {mn:.3f} s -> {(mn - pn) / pn * 100:+.1f} %, "
                f"{per_test_us:+.1f} us per test"
            )
        if args.memory_tests:
            big = Path(tmp, "big")
            make_suite(big, args.memory_tests)
            _, rss_plain = run(big, False)
            _, rss_carbon = run(big, True)
            per_test_bytes = (rss_carbon - rss_plain) * 1024 / args.memory_tests
            print(
                f"{args.memory_tests} tests: peak RSS plain {rss_plain / 1024:.0f} MiB, --carbon "
                f"{rss_carbon / 1024:.0f} MiB -> +{per_test_bytes:.0f} bytes per test"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
