"""The floor under ``--carbon``'s time per test: what the method costs a test before any bookkeeping.

Each piece is something a metered run does for every test whatever the code around it, timed on
its own on this machine (best of several repeats of many calls, so the figure is the piece's cost,
not the machine's noise):

- hooks: three innermost phase wrappers (set-up, call, tear-down: one call each) and one report
  listener (three calls: one report a phase), as the difference between calling a pluggy hook with
  and without a no-op implementation of that kind;
- clocks: six reads of the process's CPU clock and of the wall clock (both ends of three phases)
  and two of the children's CPU time;
- history: one test's row inserted into SQLite (the store's ``tests`` table, in one transaction
  for many rows, as the store writes them);
- JSON: one test's eight figures formatted with 12 significant digits.

    python benchmarks/bench_floor.py
"""

from __future__ import annotations

import functools
import resource
import sqlite3
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import pluggy

from pytest_carbon.store.schema import MIGRATIONS, TEST_COLUMNS

hookspec = pluggy.HookspecMarker("floor")
hookimpl = pluggy.HookimplMarker("floor")


class Spec:
    @hookspec
    def phase(self, item: Any) -> None:
        """A stand-in for pytest_runtest_setup, _call and _teardown."""

    @hookspec
    def logreport(self, report: Any) -> None:
        """A stand-in for pytest_runtest_logreport."""


class Others:
    """What other plugins put on those hooks: a few wrappers and plain implementations."""

    @hookimpl(wrapper=True)
    def phase(self, item: Any) -> Any:
        return (yield)

    @hookimpl
    def logreport(self, report: Any) -> None:
        return None


class Wrapper:
    @hookimpl(wrapper=True, trylast=True)
    def phase(self, item: Any) -> Any:
        return (yield)


class Listener:
    @hookimpl
    def logreport(self, report: Any) -> None:
        return None


def best_ns(stmt: Any, number: int = 20_000, repeat: int = 15, **names: Any) -> float:
    """Nanoseconds a call (a callable, or a statement on ``names``), best of ``repeat`` runs of ``number``."""
    return min(timeit.repeat(stmt, number=number, repeat=repeat, globals=names)) / number * 1e9


def hook_costs() -> tuple[float, float]:
    """(extra ns a phase wrapper adds to one hook call, extra ns a listener adds to one hook call)."""

    def manager(*extra: object) -> pluggy.PluginManager:
        pm = pluggy.PluginManager("floor")
        pm.add_hookspecs(Spec)
        for _ in range(3):
            pm.register(Others())
        for plugin in extra:
            pm.register(plugin)
        return pm

    base, with_wrapper, with_listener = manager(), manager(Wrapper()), manager(Listener())
    item = object()
    wrap = best_ns(lambda: with_wrapper.hook.phase(item=item)) - best_ns(lambda: base.hook.phase(item=item))
    listen = best_ns(lambda: with_listener.hook.logreport(report=item))
    listen -= best_ns(lambda: base.hook.logreport(report=item))
    return wrap, listen


def sqlite_row_ns(rows: int = 5000, repeat: int = 7) -> float:
    """Nanoseconds to insert one ``tests`` row, best of ``repeat`` transactions of ``rows`` rows."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp, "history.sqlite"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for _, statements in MIGRATIONS:
            for statement in statements:
                if "tests" in statement.split("(")[0]:
                    conn.execute(statement.format(real="REAL").replace(" REFERENCES runs (id) ON DELETE CASCADE", ""))
        marks = ", ".join("?" for _ in TEST_COLUMNS)
        sql = f"INSERT INTO tests ({', '.join(TEST_COLUMNS)}) VALUES ({marks})"
        best = float("inf")
        for run in range(repeat):
            figures = (1.2e-5, 1.1e-5, 1.23e-4, 2.3e-5, 1.2e-6, 1e-4, 2.3e-5, 0.0)
            file = "tests/test_gen.py"
            rest = (None, None, None)  # worker, budget, extra
            batch = [(f"run{run}", i, f"{file}::test_{i}", "passed", *figures, file, i + 1, *rest) for i in range(rows)]
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
            best = min(best, time.perf_counter() - start)
        conn.close()
    return best / rows * 1e9


def main() -> int:
    wrap, listen = hook_costs()
    figures = (1.234567891234e-5, 1.13453453e-5, 1.23456345e-4, 2.3345345e-5, 1.23453e-6, 1.345345e-4, 2.3345e-5, 0.0)
    fmt = " ".join(["%.12g"] * 8)
    children = resource.RUSAGE_CHILDREN
    pieces = [
        ("3 phase wrappers (one hook call each)", 3 * wrap),
        ("1 report listener (3 hook calls)", 3 * listen),
        ("6 process CPU clock reads", 6 * best_ns(time.process_time_ns)),
        ("6 wall clock reads", 6 * best_ns(time.perf_counter_ns)),
        ("2 children CPU reads", 2 * best_ns(functools.partial(resource.getrusage, children))),
        ("1 history row in SQLite", sqlite_row_ns()),
        ("8 figures at 12 digits (JSON)", best_ns("fmt % figures", fmt=fmt, figures=figures)),
    ]
    width = max(len(label) for label, _ in pieces)
    for label, ns in pieces:
        print(f"{label:<{width}}  {ns / 1000:6.2f} us")
    print(f"{'floor, per test':<{width}}  {sum(ns for _, ns in pieces) / 1000:6.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
