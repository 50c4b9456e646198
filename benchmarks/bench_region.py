"""Region resolution and cloud detection cost on this machine (not a cloud machine).

Run: ``python benchmarks/bench_region.py [--runs N]``. Cold figures are measured in fresh
interpreters (first call: tables read and parsed); warm figures repeat the call in one process.
Each case prints the median and the worst of its runs, in milliseconds. "import" is the cost of
importing ``pytest_carbon.intensity`` once pytest itself is loaded, as in a test session.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COLD = r"""
import json, sys, time
import pytest  # the plugin's context: pytest and the stdlib it loads are already imported
t0 = time.perf_counter()
from pytest_carbon.intensity import resolve_region
t1 = time.perf_counter()
opts = json.loads(sys.argv[1])
region = resolve_region({}, **opts)
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "resolve_ms": (t2 - t1) * 1e3, "known": region.known}))
"""


def laptop_tree(root: Path) -> Path:
    """A firmware (DMI) tree as a physical laptop shows it."""
    folder = root / "sys" / "class" / "dmi" / "id"
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in {"sys_vendor": "LENOVO", "product_name": "20XW0055GE", "bios_vendor": "LENOVO"}.items():
        (folder / name).write_text(value + "\n", encoding="utf-8")
    return root


def cold(options: dict[str, Any], runs: int) -> dict[str, float]:
    """Median and worst of import and first resolution, each in a fresh interpreter."""
    imports, resolves = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", COLD, json.dumps(options)], capture_output=True, text=True, check=True
        ).stdout
        data = json.loads(out)
        imports.append(data["import_ms"])
        resolves.append(data["resolve_ms"])
    return {
        "import_median_ms": statistics.median(imports),
        "resolve_median_ms": statistics.median(resolves),
        "resolve_max_ms": max(resolves),
    }


def warm(options: dict[str, Any], repeats: int) -> dict[str, float]:
    """Median and worst of repeated resolutions in this process (tables already cached)."""
    from pytest_carbon.intensity import resolve_region

    resolve_region({}, **options)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resolve_region({}, **options)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"resolve_median_ms": statistics.median(times), "resolve_max_ms": max(times)}


def main() -> int:
    """Run every case and print a table (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per cold case")
    parser.add_argument("--repeats", type=int, default=2000, help="calls per warm case")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        laptop = str(laptop_tree(Path(tmp)))
        # the keyword arguments of resolve_region (the options carbon_region, carbon_sys_root)
        cases: dict[str, dict[str, Any]] = {
            "unknown, this machine's /sys": {},
            "unknown, laptop firmware": {"sys_root": laptop},
            "explicit FR": {"code": "FR"},
            "explicit aws:eu-west-1": {"code": "aws:eu-west-1"},
            "explicit zone:US-CAL-CISO": {"code": "zone:US-CAL-CISO"},
        }
        results = {}
        for name, options in cases.items():
            results[name] = {"cold": cold(options, args.runs), "warm": warm(options, args.repeats)}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'case':32} {'import':>9} {'cold med':>9} {'cold max':>9} {'warm med':>9} {'warm max':>9}  (ms)")
    for name, r in results.items():
        c, w = r["cold"], r["warm"]
        print(
            f"{name:32} {c['import_median_ms']:9.2f} {c['resolve_median_ms']:9.3f} {c['resolve_max_ms']:9.3f}"
            f" {w['resolve_median_ms']:9.4f} {w['resolve_max_ms']:9.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
