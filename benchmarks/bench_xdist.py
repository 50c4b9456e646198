"""Overhead of ``--carbon`` under pytest-xdist: wall time, CPU time of all processes, controller memory.

Runs ``pytest -n 2`` and ``pytest -n 2 --carbon`` in back-to-back pairs (the order alternates) on a
generated suite of trivial tests and reports the medians of the paired differences with their
quartiles, then the peak memory of the controller alone on a large suite:

    python benchmarks/bench_xdist.py                      # 5,000 tests, 15 pairs, memory at 100,000
    python benchmarks/bench_xdist.py --tests 1000 --rounds 5 --memory-tests 0
    python benchmarks/bench_xdist.py --ablation --rounds 8   # where the time goes: see ABLATION

CPU time is user + system of the controller and of its workers (the workers are its children and
it waits for them, so ``wait4`` counts them). The controller's own peak RSS is written by a small
plugin loaded in both runs (``VmHWM`` of the controller at ``pytest_unconfigure``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_overhead import ENV, Rounds, make_suite

#: loaded in every run, plain or metered: writes the controller's peak RSS (KiB) to a file
RSS_PLUGIN = """
import os

def pytest_unconfigure(config):
    if hasattr(config, "workerinput") or not os.environ.get("BENCH_RSS_FILE"):
        return
    with open("/proc/self/status") as fh:
        peak = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(os.environ["BENCH_RSS_FILE"], "w") as fh:
        fh.write(peak)
"""


#: ``--ablation``: a plugin of the plugin's shape that does nothing (three innermost phase
#: wrappers, two CPU clock reads each), to tell the cost of the hook calls from the work in them
def noop_plugin(clock: str) -> str:
    """A plugin of the plugin's shape doing nothing but reading ``clock`` (an expression) twice a phase."""
    read = f"        {clock}\n" if clock else "        pass\n"
    return (
        "import os\nimport time\n\nimport pytest\n\n\nclass _Shape:\n"
        + "".join(
            "    @pytest.hookimpl(wrapper=True, trylast=True)\n"
            f"    def pytest_runtest_{phase}(self, item):\n"
            f"{read}        try:\n            return (yield)\n        finally:\n    {read}\n"
            for phase in ("setup", "call", "teardown")
        )
        + '\ndef pytest_configure(config):\n    config.pluginmanager.register(_Shape(), "bench-noop-shape")\n'
    )


#: ``--ablation``: the no-op plugins by module name, each with the clock it reads (the first: the meter's)
NOOP_CLOCKS = {
    "benchnoop": "time.process_time_ns()",
    "benchnoop_thread": "time.thread_time_ns()",
    "benchnoop_perf": "time.perf_counter_ns()",
    "benchnoop_syscall": "os.getppid()",
    "benchnoop_none": "",
}

#: ``--ablation``: each run's extra arguments and its number of xdist workers (0: serial)
ABLATION = {
    "-n 2, plain": ([], 2),
    "-n 2, no-op shape, process CPU clock": (["-p", "benchnoop"], 2),
    "-n 2, --carbon, no history, no JSON": (["--carbon", "--carbon-store=off", "--carbon-region=FR"], 2),
    "-n 2, --carbon, JSON, history": (["--carbon", "--carbon-region=FR", "--carbon-json={folder}/carbon.json"], 2),
    "-n 2, no-op shape, thread CPU clock": (["-p", "benchnoop_thread"], 2),
    "-n 2, no-op shape, wall clock (vDSO)": (["-p", "benchnoop_perf"], 2),
    "-n 2, no-op shape, a trivial system call": (["-p", "benchnoop_syscall"], 2),
    "-n 2, no-op shape, no clock": (["-p", "benchnoop_none"], 2),
    "serial, plain": ([], 0),
    "serial, no-op shape, process CPU clock": (["-p", "benchnoop"], 0),
    "serial, --carbon, no history, no JSON": (["--carbon", "--carbon-store=off", "--carbon-region=FR"], 0),
}


def ablation(folder: Path, rounds: int, tests: int) -> None:
    """Every run of ``ABLATION`` once a round, the order reversed every other round; CPU over its plain run."""

    def one(extra: list[str], workers: int) -> tuple[float, float]:
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        args += [a.format(folder=folder) for a in extra] + (["-n", str(workers)] if workers else []) + [str(folder)]
        start = time.perf_counter()
        quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, 1, 2)]
        pid = os.posix_spawn(args[0], args, dict(ENV), file_actions=quiet)
        _, status, usage = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"pytest failed: {' '.join(args)}")
        return time.perf_counter() - start, usage.ru_utime + usage.ru_stime

    names = list(ABLATION)
    for name in names:  # warm the caches
        one(*ABLATION[name])
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for turn in range(rounds):
        for name in names if turn % 2 == 0 else names[::-1]:
            runs[name].append(one(*ABLATION[name]))
        print(f"  round {turn + 1}: " + ", ".join(f"{n} {runs[n][-1][1]:.2f} s" for n in names), flush=True)
    for name in names:
        plain = runs["serial, plain" if name.startswith("serial") else "-n 2, plain"]
        if runs[name] is plain:
            print(f"{name}: {statistics.median(c for _, c in plain):.2f} s CPU (median)")
            continue
        added = [(c - pc) / tests * 1e6 for (_, c), (_, pc) in zip(runs[name], plain, strict=True)]
        wall = [(w - pw) / pw * 100 for (w, _), (pw, _) in zip(runs[name], plain, strict=True)]
        q1, middle, q3 = statistics.quantiles(added, n=4)
        print(
            f"{name}: CPU {middle:+.0f} us a test (quartiles {q1:+.0f} .. {q3:+.0f}), "
            f"wall {statistics.median(wall):+.1f} %"
        )


def run(folder: Path, carbon: bool, workers: int, rss_file: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of all processes, and the controller's peak RSS (KiB; 0 when not asked)."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "benchrss"]
    args += ["-n", str(workers), str(folder)]
    if carbon:
        args[3:3] = ["--carbon", f"--carbon-json={folder / 'carbon.json'}", "--carbon-region=FR"]
    env = dict(ENV)
    env.pop("BENCH_RSS_FILE", None)
    if rss_file is not None:
        env["BENCH_RSS_FILE"] = str(rss_file)
    start = time.perf_counter()
    quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, 1, 2)]
    pid = os.posix_spawn(args[0], args, env, file_actions=quiet)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pytest failed: {' '.join(args)}")
    rss = int(rss_file.read_text()) if rss_file is not None else 0
    return elapsed, usage.ru_utime + usage.ru_stime, rss


def measure(folder: Path, rounds: int, workers: int) -> Rounds:
    """Plain and metered runs in back-to-back pairs, the order alternating (as ``bench_overhead``)."""
    run(folder, False, workers)  # warm the bytecode and file caches
    run(folder, True, workers)
    result = Rounds()
    for turn in range(rounds):
        order = (False, True) if turn % 2 == 0 else (True, False)
        runs = {carbon: run(folder, carbon, workers) for carbon in order}
        result.plain.append(runs[False][:2])
        result.metered.append(runs[True][:2])
        print(
            f"  pair {turn + 1}: plain {runs[False][0]:.2f} s wall {runs[False][1]:.2f} s CPU; "
            f"--carbon {runs[True][0]:.2f} s wall {runs[True][1]:.2f} s CPU",
            flush=True,
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-tests", type=int, default=100_000)
    parser.add_argument("--ablation", action="store_true", help="the runs of ABLATION instead (--tests, --rounds)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # from the temporary folder: the installed package, not a checkout, and the RSS plugin on sys.path
        os.chdir(tmp)
        Path(tmp, "benchrss.py").write_text(RSS_PLUGIN)
        for module, clock in NOOP_CLOCKS.items():
            Path(tmp, f"{module}.py").write_text(noop_plugin(clock))
        many = Path(tmp, "many")
        make_suite(many, args.tests)
        if args.ablation:
            ablation(many, args.rounds, args.tests)
            return 0
        if args.rounds:
            large = measure(many, args.rounds, args.workers)
            plain_wall = [p[0] for p in large.plain]
            print(
                f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} pairs, -n {args.workers}, "
                f"{args.tests} tests; plain: {statistics.median(plain_wall):.2f} s wall, "
                f"{statistics.median(p[1] for p in large.plain):.2f} s CPU (medians)"
            )
            for which, label in enumerate(("wall", "CPU")):
                added = large.paired(which)
                q1, median, q3 = statistics.quantiles(added, n=4)
                base = statistics.median(p[which] for p in large.plain)
                per_test = [a / args.tests * 1e6 for a in added]
                t1, t_median, t3 = statistics.quantiles(per_test, n=4)
                print(
                    f"{label:>4}: added {median * 1e3:+.0f} ms a run = {median / base * 100:+.1f} % "
                    f"(quartiles {q1 / base * 100:+.1f} .. {q3 / base * 100:+.1f} %), "
                    f"{t_median:+.1f} us a test (quartiles {t1:+.1f} .. {t3:+.1f})"
                )
        if args.memory_tests:
            big = Path(tmp, "big")
            make_suite(big, args.memory_tests)
            rss = Path(tmp, "rss")
            plain = run(big, False, args.workers, rss)[2]
            metered = run(big, True, args.workers, rss)[2]
            print(
                f"{args.memory_tests} tests, -n {args.workers}: controller peak RSS plain {plain / 1024:.0f} MiB, "
                f"--carbon {metered / 1024:.0f} MiB -> {(metered - plain) * 1024 / args.memory_tests:+.0f} bytes a test"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
