"""Benchmark of the history store and the dashboard.

1. Record a run of 10,000 tests (one transaction): target at most 300 ms.
2. Render the dashboard from a store of 1,000 runs of 2,000 tests each: target at most 5 s.

The big store is filled straight into the tables (runs with executemany, tests with the store's
own bulk insert: executemany on SQLite, COPY on PostgreSQL) (2 million test rows through
``Store.record`` would take minutes of set-up that is not what is measured); each run's rows are
those ``Store.record`` would write. Usage:

    .venv/bin/python benchmarks/bench_store.py [--store URL] [--runs 1000] [--tests 2000]

Without ``--store``, SQLite files in a temporary folder. With a postgresql:// URL (password in
PGPASSWORD), an empty database on that server.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reportdata import make_report

from pytest_carbon.dashboard import write_dashboard
from pytest_carbon.store import Store, open_store, schema


def bench_record(url: str | None, root: Path, tests: int = 10_000, repeats: int = 5) -> list[float]:
    """Milliseconds to record a run of ``tests`` tests, ``repeats`` times (a new run id each time)."""
    base = make_report([(f"tests/test_big.py::test_p[{i}]", 0.001 * (i % 13 + 1)) for i in range(tests)])
    times_ms = []
    with open_store(url, root) as store:
        for n in range(repeats):
            report = copy.copy(base)
            report["run"] = {**base["run"], "id": f"{n:032x}"}
            started = time.perf_counter()
            store.record(report)
            times_ms.append((time.perf_counter() - started) * 1e3)
    return times_ms


def fill(store: Store, runs: int, tests: int, projects: int = 8) -> float:
    """Fill ``store`` with ``runs`` runs of ``tests`` tests; seconds it took."""
    started = time.perf_counter()
    template = make_report([(f"tests/test_m{i % 40}.py::test_{i}", 0.002 * (i % 17 + 1)) for i in range(tests)])
    run_marks = ", ".join(store.param for _ in schema.RUN_COLUMNS)
    run_sql = f"INSERT INTO runs ({', '.join(schema.RUN_COLUMNS)}) VALUES ({run_marks})"
    base_tests = schema.test_rows("x", template["tests"])
    batch = 50
    for first in range(0, runs, batch):
        run_rows: list[tuple[Any, ...]] = []
        test_rows: list[tuple[Any, ...]] = []
        for n in range(first, min(first + batch, runs)):
            report = copy.copy(template)
            run_id = f"b{n:031x}"
            report["run"] = {
                **template["run"],
                "id": run_id,
                "project": f"project-{n % projects}",
                "started_at": f"2026-{1 + n // 200 % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
            }
            run_rows.append(schema.run_row(report, None, "acme"))
            test_rows += [(run_id, *row[1:]) for row in base_tests]
        with store._transaction() as cur:
            cur.executemany(run_sql, run_rows)
            store._insert_tests(cur, test_rows)
    return time.perf_counter() - started


def main() -> int:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", metavar="URL", help="postgresql:// URL of an empty database (default: SQLite)")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        url = args.store or str(root / "record.sqlite")
        times_ms = bench_record(url, root)
        print(
            f"record a run of 10,000 tests: best {min(times_ms):.0f} ms, median {sorted(times_ms)[2]:.0f} ms "
            f"(5 runs; target <= 300 ms) [{'PostgreSQL' if args.store else 'SQLite'}]"
        )
        big_url = args.store or str(root / "big.sqlite")
        with open_store(big_url, root) as store:
            filled_s = fill(store, args.runs, args.tests)
            print(
                f"filled {args.runs} runs x {args.tests} tests in {filled_s:.1f} s (bulk inserts; set-up, not measured)"
            )
            renders = []
            for _ in range(3):
                started = time.perf_counter()
                write_dashboard(store, root / "site")
                renders.append(time.perf_counter() - started)
        size = sum(p.stat().st_size for p in (root / "site").rglob("*.html"))
        print(
            f"dashboard from {args.runs} runs x {args.tests} tests: best {min(renders):.2f} s, "
            f"worst {max(renders):.2f} s (3 renders; target <= 5 s); site {size / 1e3:.0f} kB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
