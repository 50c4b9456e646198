r"""Start-up of ``--carbon``, with and without bytecode caches, and time per test, for several installs at once.

``bench_overhead.py`` measures one install; this one compares installs (the code before a change and
after it, each installed in a virtual environment of its own, ``pip install .``, not editable: an
editable install is not assertion-rewritten by pytest, and a real one is) in one run, their runs
alternated so that the machine's drift hits them alike:

    python benchmarks/bench_startup.py --rounds 30 --tests 2000 --test-rounds 9 \
        --python before=/tmp/bench-before/bin/python --python after=/tmp/bench-after/bin/python

For each install and each round: a one-test suite run plainly and with ``--carbon`` (back to back,
the order alternating), twice, once with bytecode caches and once with ``PYTHONDONTWRITEBYTECODE=1``.

- With caches: the runs use a warmed ``PYTHONPYCACHEPREFIX`` of their own, so that pytest's rewritten
  modules of the plugin are read from their cache, as on a developer's machine or a CI runner.
- With ``PYTHONDONTWRITEBYTECODE=1`` (set in many CI container images): the plugin's rewritten
  modules are removed from the install's ``__pycache__`` folders first and never written again, so
  that pytest rewrites and compiles every module of the plugin imported at start-up, on every run;
  the rest (the standard library, pytest) keeps the caches its installation wrote, as in such images.

Added start-up = the paired difference (metered - plain) on the one-test suite: the median, the
quartiles, and the difference of the fastest runs. ``--tests N`` (0: none) adds, per install, the
time per test as ``bench_overhead.py`` measures it (paired difference on N tests less the median
added start-up, over N), with caches, ``--test-rounds`` pairs. The machine's load average
(``/proc/loadavg``) is printed before and after.
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

from bench_overhead import make_suite

BASE_ENV = {
    key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
}


class Install:
    """One install under test: its interpreter, and the environments of its two modes."""

    def __init__(self, name: str, python: str, cache: Path) -> None:
        self.name = name
        self.python = python
        self.cached_env = {**BASE_ENV, "PYTHONPYCACHEPREFIX": str(cache / name)}
        self.nocache_env = {**BASE_ENV, "PYTHONDONTWRITEBYTECODE": "1"}

    def drop_rewritten(self) -> int:
        """Remove pytest's rewritten modules of the plugin from the install (``*-pytest-*.pyc``)."""
        import subprocess

        where = subprocess.run(
            [self.python, "-c", "import os, pytest_carbon; print(os.path.dirname(pytest_carbon.__file__))"],
            env=self.nocache_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        removed = 0
        for pyc in Path(where).rglob("__pycache__/*-pytest-*.pyc"):
            pyc.unlink()
            removed += 1
        return removed


def run(python: str, env: dict[str, str], folder: Path, carbon: bool) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one pytest run of ``folder``."""
    args = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(folder)]
    if carbon:
        args[3:3] = ["--carbon", f"--carbon-json={folder / 'carbon.json'}", "--carbon-region=FR"]
    start = time.perf_counter()
    quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, 1, 2)]
    pid = os.posix_spawn(python, args, env, file_actions=quiet)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pytest failed: {' '.join(args)}")
    return elapsed, usage.ru_utime + usage.ru_stime


def pair(python: str, env: dict[str, str], folder: Path, metered_first: bool) -> tuple[tuple[float, float], ...]:
    """A back-to-back pair: (plain, metered), each (wall, CPU)."""
    order = (True, False) if metered_first else (False, True)
    runs = {carbon: run(python, env, folder, carbon) for carbon in order}
    return runs[False], runs[True]


def spread(values: list[float], scale: float, unit: str) -> str:
    q1, median, q3 = statistics.quantiles(values, n=4)
    return f"{median * scale:+.1f} {unit} (quartiles {q1 * scale:+.1f} .. {q3 * scale:+.1f})"


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--python", action="append", metavar="NAME=PATH", help="an install to measure (repeat; default: this one)"
    )
    parser.add_argument("--rounds", type=int, default=30, help="pairs of one-test runs per install and mode")
    parser.add_argument("--tests", type=int, default=0, help="tests of the per-test suite (0: no per-test figure)")
    parser.add_argument("--test-rounds", type=int, default=9, help="pairs of runs of the per-test suite per install")
    args = parser.parse_args()
    specs = args.python or [f"this={sys.executable}"]
    print(f"load average before: {loadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        # Run from the temporary folder: `python -m pytest` puts the working directory first on sys.path,
        # and from a checkout that would import the source tree instead of the installed package.
        os.chdir(tmp)
        installs = [Install(*spec.split("=", 1), Path(tmp, "pycache")) for spec in specs]
        one = Path(tmp, "one")
        make_suite(one, 1)
        for install in installs:
            print(f"{install.name}: {install.python}; {install.drop_rewritten()} rewritten modules removed")
            for carbon in (False, True):  # warm the caches of the cached mode, and the file cache
                run(install.python, install.cached_env, one, carbon)
                run(install.python, install.nocache_env, one, carbon)
        modes = (("cached", "cached_env"), ("PYTHONDONTWRITEBYTECODE=1", "nocache_env"))
        start: dict[tuple[str, str], list[tuple[tuple[float, float], ...]]] = {
            (i.name, mode): [] for i in installs for mode, _ in modes
        }
        for turn in range(args.rounds):
            ordered = installs if turn % 2 == 0 else installs[::-1]
            for install in ordered:
                for mode, env in modes if turn % 4 < 2 else modes[::-1]:
                    start[install.name, mode].append(pair(install.python, getattr(install, env), one, turn % 2 == 1))
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.rounds} pairs of one-test runs each")
        added: dict[tuple[str, int], float] = {}
        for install in installs:
            for mode, _ in modes:
                pairs = start[install.name, mode]
                plain_wall = statistics.median(p[0][0] for p in pairs)
                for which, label in ((0, "wall"), (1, "CPU")):
                    diffs = [m[which] - p[which] for p, m in pairs]
                    fastest = min(m[which] for _, m in pairs) - min(p[which] for p, _ in pairs)
                    if mode == "cached":
                        added[install.name, which] = statistics.median(diffs)
                    print(
                        f"{install.name:>8} {mode:<26} start-up {label:>4}: {spread(diffs, 1e3, 'ms')}, "
                        f"fastest {fastest * 1e3:+.1f} ms (plain run {plain_wall * 1e3:.0f} ms)"
                    )
        if args.tests:
            many = Path(tmp, "many")
            make_suite(many, args.tests)
            per_test: dict[str, list[tuple[tuple[float, float], ...]]] = {i.name: [] for i in installs}
            for install in installs:
                run(install.python, install.cached_env, many, True)
            for turn in range(args.test_rounds):
                for install in installs if turn % 2 == 0 else installs[::-1]:
                    per_test[install.name].append(pair(install.python, install.cached_env, many, turn % 2 == 1))
            for install in installs:
                pairs = per_test[install.name]
                plain = statistics.median(p[0][0] for p in pairs) / args.tests * 1e6
                for which, label in ((0, "wall"), (1, "CPU")):
                    values = [(m[which] - p[which] - added[install.name, which]) / args.tests for p, m in pairs]
                    print(
                        f"{install.name:>8} per test on {args.tests} tests, {label:>4}: {spread(values, 1e6, 'us')} "
                        f"(plain pytest {plain:.0f} us a test)"
                    )
    print(f"load average after: {loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
