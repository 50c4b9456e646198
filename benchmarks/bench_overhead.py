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


def added(folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    """Per round, what --carbon added: wall seconds and CPU seconds.

    Each is the difference of a pair of back-to-back runs, so that slow drifts of a shared machine cancel out.
    """
    run(folder, False)  # warm the bytecode and file caches
    run(folder, True)
    wall: list[float] = []
    cpu: list[float] = []
    for turn in range(rounds):
        order = (False, True) if turn % 2 == 0 else (True, False)
        results = {carbon: run(folder, carbon) for carbon in order}
        wall.append(results[True][0] - results[False][0])
        cpu.append(results[True][1] - results[False][1])
    return wall, cpu


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
        one_wall, one_cpu = added(one, args.rounds)
        many_wall, many_cpu = added(many, args.rounds)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} rounds of paired runs")
        for label, one_runs, many_runs in (("wall", one_wall, many_wall), ("CPU", one_cpu, many_cpu)):
            start_ms = statistics.median(one_runs) * 1e3
            s1, _, s3 = statistics.quantiles(one_runs, n=4)
            per_test = [(m - statistics.median(one_runs)) / args.tests * 1e6 for m in many_runs]
            q1, median, q3 = statistics.quantiles(per_test, n=4)
            print(
                f"{label:>4}: start-up {start_ms:+.1f} ms (median; quartiles "
                f"{s1 * 1e3:+.1f} .. {s3 * 1e3:+.1f}); "
                f"per test {median:+.1f} us (median; quartiles {q1:+.1f} .. {q3:+.1f}) on {args.tests} tests"
            )
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
