"""Overhead of ``--carbon`` on a suite of trivial tests: time per test, start-up, memory per test.

Runs plain pytest and ``pytest --carbon`` in back-to-back pairs on generated suites and reports medians
of the paired differences, in wall time and in CPU time (user + system of all threads, less disturbed by
other work on a shared machine):

    python benchmarks/bench_overhead.py                 # 5,000 tests, 15 rounds, memory at 100,000
    python benchmarks/bench_overhead.py --tests 1000 --rounds 5 --memory-tests 0

Added start-up = the paired difference on a 1-test suite.
Added time per test = (the paired difference on N tests - the added start-up) / N.
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


def run(folder: Path, carbon: bool) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, all threads) and peak RSS (KiB) of one pytest run."""
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
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


class Rounds:
    """The runs of one suite: per round, plain and metered, wall and CPU seconds."""

    def __init__(self) -> None:
        self.plain: list[tuple[float, float]] = []
        self.metered: list[tuple[float, float]] = []

    def paired(self, which: int) -> list[float]:
        """Per round, what --carbon added (0: wall, 1: CPU): the difference of a back-to-back pair."""
        return [m[which] - p[which] for p, m in zip(self.plain, self.metered, strict=True)]

    def fastest(self, which: int) -> float:
        """The fastest metered run less the fastest plain run (0: wall, 1: CPU)."""
        return min(m[which] for m in self.metered) - min(p[which] for p in self.plain)


def measure(folder: Path, rounds: int) -> Rounds:
    """Run plain and metered pytest ``rounds`` times each, in back-to-back pairs (the order alternates).

    Paired differences cancel the slow drifts of a shared machine; the fastest runs of each kind
    leave out the slowdowns that hit one run and not its pair.
    """
    run(folder, False)  # warm the bytecode and file caches
    run(folder, True)
    result = Rounds()
    for turn in range(rounds):
        order = (False, True) if turn % 2 == 0 else (True, False)
        runs = {carbon: run(folder, carbon) for carbon in order}
        result.plain.append(runs[False][:2])
        result.metered.append(runs[True][:2])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--memory-tests", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Run from the temporary folder: `python -m pytest` puts the working directory first on sys.path,
        # and from a checkout that would import the source tree instead of the installed package.
        os.chdir(tmp)
        one, many = Path(tmp, "one"), Path(tmp, "many")
        make_suite(one, 1)
        make_suite(many, args.tests)
        small = measure(one, args.rounds)
        large = measure(many, args.rounds)
        plain_s = statistics.median(p[0] for p in large.plain)
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} rounds of paired runs; "
            f"plain pytest: {plain_s / args.tests * 1e6:.0f} us a test (median wall)"
        )
        for which, label in enumerate(("wall", "CPU")):
            one_runs = small.paired(which)
            start_ms = statistics.median(one_runs) * 1e3
            s1, _, s3 = statistics.quantiles(one_runs, n=4)
            per_test = [(m - statistics.median(one_runs)) / args.tests * 1e6 for m in large.paired(which)]
            q1, median, q3 = statistics.quantiles(per_test, n=4)
            fastest_start = small.fastest(which)
            fastest_per_test = (large.fastest(which) - fastest_start) / args.tests * 1e6
            print(
                f"{label:>4}: start-up {start_ms:+.1f} ms (median; quartiles "
                f"{s1 * 1e3:+.1f} .. {s3 * 1e3:+.1f}); "
                f"per test {median:+.1f} us (median; quartiles {q1:+.1f} .. {q3:+.1f}) on {args.tests} tests"
            )
            print(f"{'':>4}  fastest runs: start-up {fastest_start * 1e3:+.1f} ms, per test {fastest_per_test:+.1f} us")
        if args.memory_tests:
            big = Path(tmp, "big")
            make_suite(big, args.memory_tests)
            rss_plain = run(big, False)[2]
            rss_carbon = run(big, True)[2]
            per_test_bytes = (rss_carbon - rss_plain) * 1024 / args.memory_tests
            print(
                f"{args.memory_tests} tests: peak RSS plain {rss_plain / 1024:.0f} MiB, --carbon "
                f"{rss_carbon / 1024:.0f} MiB -> +{per_test_bytes:.0f} bytes per test"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
