"""Fit the power model on SPECpower wall-power results and write ``pytest_carbon/data/power_model.json``.

Usage: ``python tools/fit_power_model.py [SOURCES] [--dry-run]``

The input is ``specpower_calibration_pre2019.csv`` in SOURCES (default ``../shared/sources``):
one SPECpower_ssj2008 result per row with sockets, threads, RAM, TDP per chip and the measured
whole-server wall power at active idle and at 10 % ... 100 % load. For each of the eleven load
levels the model is log-linear:

    ln P_level = c0 + c1 ln(TDP x sockets) + c2 ln(RAM GB) + c3 ln(threads) + c4 ln(sockets)

fitted by ordinary least squares on ln P, which weighs relative errors evenly across small and
large servers. Only the coefficients, the feature ranges and the error figures are written; the
rows stay where they are (SPEC's fair-use rules). Pure Python: nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_carbon.probes.tdp import normalise  # noqa: E402

DEFAULT_SOURCES = REPO.parent / "shared" / "sources"
OUT = REPO / "pytest_carbon" / "data" / "power_model.json"
CALIBRATION = "specpower_calibration_pre2019.csv"
LEVELS = [f"p{pct}" for pct in range(0, 101, 10)]
FEATURES = ["ln(tdp_w x sockets)", "ln(ram_gb)", "ln(threads)", "ln(sockets)"]
SPLIT_YEAR = 2013  # temporal check: fit on hardware up to this year, score on the newer
RECENT_YEAR = 2016  # the default per-thread figure and host socket come from hardware since then
RAM_W_PER_GB = 0.392
RAM_SOURCE = "Cloud Carbon Footprint, 0.392 W/GB (from Crucial and Micron DDR4 figures)"
GB_PER_DIMM = 8.0  # assumption for CodeCarbon's 5 W per memory module


class Row:
    """One calibration result."""

    __slots__ = ("model", "power_w", "ram_gb", "sockets", "tdp_w", "threads", "year")

    def __init__(self, raw: dict[str, str]) -> None:
        self.model = raw["cpu_model"]
        self.sockets = int(raw["sockets"])
        self.threads = int(raw["threads"])
        self.ram_gb = float(raw["ram_gb"])
        self.tdp_w = float(raw["tdp_w_per_chip"])
        self.year = int(raw["year"])
        self.power_w = [float(raw[level]) for level in LEVELS]


def load_rows(path: Path) -> tuple[list[Row], int]:
    """Usable rows, and how many were left out for a missing or unusable figure."""
    rows: list[Row] = []
    skipped = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            try:
                row = Row(raw)
            except (KeyError, ValueError):
                skipped += 1
                continue
            if min(row.power_w) <= 0 or row.tdp_w <= 0 or row.ram_gb <= 0 or row.threads <= 0:
                skipped += 1
                continue
            rows.append(row)
    return rows, skipped


def features(tdp_w: float, sockets: int, ram_gb: float, threads: int) -> list[float]:
    """The model's regressors for one machine (without the intercept)."""
    return [math.log(tdp_w * sockets), math.log(ram_gb), math.log(threads), math.log(sockets)]


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    size = len(vector)
    aug = [[*matrix[i], vector[i]] for i in range(size)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(aug[r][col]))
        aug[col], aug[pivot] = aug[pivot], aug[col]
        if abs(aug[col][col]) < 1e-12:
            raise ValueError("singular normal equations: the rows do not vary enough")
        for r in range(size):
            if r != col:
                factor = aug[r][col] / aug[col][col]
                aug[r] = [a - factor * b for a, b in zip(aug[r], aug[col], strict=True)]
    return [aug[i][size] / aug[i][i] for i in range(size)]


def least_squares(xs: list[list[float]], ys: list[float]) -> list[float]:
    """Ordinary least squares with an intercept; returns [intercept, *slopes]."""
    design = [[1.0, *x] for x in xs]
    width = len(design[0])
    normal = [[sum(d[i] * d[j] for d in design) for j in range(width)] for i in range(width)]
    rhs = [sum(d[i] * y for d, y in zip(design, ys, strict=True)) for i in range(width)]
    return _solve(normal, rhs)


def fit(rows: list[Row]) -> list[list[float]]:
    """Coefficients per load level."""
    xs = [features(r.tdp_w, r.sockets, r.ram_gb, r.threads) for r in rows]
    return [least_squares(xs, [math.log(r.power_w[i]) for r in rows]) for i in range(len(LEVELS))]


def ranges(rows: list[Row]) -> list[list[float]]:
    """[low, high] of each regressor over the fitting rows (the model clamps to these)."""
    xs = [features(r.tdp_w, r.sockets, r.ram_gb, r.threads) for r in rows]
    return [[min(x[k] for x in xs), max(x[k] for x in xs)] for k in range(len(FEATURES))]


def predict(coefs: list[list[float]], bounds: list[list[float]], row: Row, tdp_w: float | None = None) -> list[float]:
    """Predicted wall power at every level (the same arithmetic as the runtime model)."""
    x = features(row.tdp_w if tdp_w is None else tdp_w, row.sockets, row.ram_gb, row.threads)
    x = [min(max(v, lo), hi) for v, (lo, hi) in zip(x, bounds, strict=True)]
    return [math.exp(c[0] + sum(a * b for a, b in zip(c[1:], x, strict=True))) for c in coefs]


def codecarbon(row: Row) -> list[float]:
    """CodeCarbon's fallback: TDP x (0.1 + 0.9 load^3) plus 5 W per 8 GB memory module."""
    dimms = math.ceil(row.ram_gb / GB_PER_DIMM)
    return [row.tdp_w * row.sockets * (0.1 + 0.9 * (i / 10) ** 3) + 5.0 * dimms for i in range(len(LEVELS))]


def error_figures(rows: list[Row], predicted: list[list[float]]) -> dict[str, Any]:
    """Median and 90th percentile absolute percentage error over every row and load level."""
    errors = sorted(
        abs(p - m) / m * 100 for r, ps in zip(rows, predicted, strict=True) for p, m in zip(ps, r.power_w, strict=True)
    )
    p90 = errors[min(len(errors) - 1, math.ceil(0.9 * len(errors)) - 1)]
    by_level = {
        LEVELS[i]: round(
            statistics.median(
                abs(ps[i] - r.power_w[i]) / r.power_w[i] * 100 for r, ps in zip(rows, predicted, strict=True)
            ),
            1,
        )
        for i in range(len(LEVELS))
    }
    return {
        "rows": len(rows),
        "points": len(errors),
        "median_ape_pct": round(statistics.median(errors), 2),
        "p90_ape_pct": round(p90, 2),
        "median_ape_pct_by_level": by_level,
    }


def host_threads(rows: list[Row]) -> dict[str, int]:
    """Threads per socket for each CPU model in the calibration (facts, for a VM's host)."""
    seen: dict[str, Counter[int]] = defaultdict(Counter)
    for r in rows:
        name = normalise(r.model)
        if name and r.threads % r.sockets == 0:
            seen[name][r.threads // r.sockets] += 1
    return {name: counts.most_common(1)[0][0] for name, counts in sorted(seen.items())}


def build(rows: list[Row], skipped: int) -> dict[str, Any]:
    """The JSON document: coefficients, defaults, error figures."""
    coefs = fit(rows)
    bounds = ranges(rows)
    recent = [r for r in rows if r.year >= RECENT_YEAR]
    w_per_thread = statistics.median(r.tdp_w * r.sockets / r.threads for r in recent)
    old = [r for r in rows if r.year <= SPLIT_YEAR]
    new = [r for r in rows if r.year > SPLIT_YEAR]
    old_coefs, old_bounds = fit(old), ranges(old)
    # what the RAM term of the fit implies, at the median machine, for comparison with the cited figure
    mid = sorted(rows, key=lambda r: r.ram_gb)[len(rows) // 2]
    mid_full = predict(coefs, bounds, mid)[-1]
    implied_w_per_gb = coefs[-1][2] * mid_full / mid.ram_gb
    return {
        "format": 1,
        "model_version": f"specpower-loglinear-{dt.date.today():%Y%m%d}",
        "fitted_on": dt.date.today().isoformat(),
        "source": "SPECpower_ssj2008 results, hardware 2004-2018, as collected by green-coding-solutions/cloud-energy "
        f"(file {CALIBRATION}); {len(rows)} results used, {skipped} left out for a missing TDP or figure",
        "form": "ln P(level) = c0 + c1 ln(tdp_w x sockets) + c2 ln(ram_gb) + c3 ln(threads) + c4 ln(sockets); "
        "linear in power between levels; regressors clamped to the fitted range",
        "levels": [i / 10 for i in range(len(LEVELS))],
        "features": FEATURES,
        "coefficients": [[round(c, 8) for c in level] for level in coefs],
        "feature_ranges": [[round(lo, 8), round(hi, 8)] for lo, hi in bounds],
        "default_w_per_thread": round(w_per_thread, 3),
        "default_w_per_thread_source": f"median TDP per thread of the calibration's hardware from {RECENT_YEAR} on "
        f"({len(recent)} results)",
        "default_host_socket": {
            "tdp_w": statistics.median(r.tdp_w for r in recent),
            "threads": int(statistics.median(r.threads // r.sockets for r in recent)),
            "source": f"median socket of the calibration's hardware from {RECENT_YEAR} on",
        },
        "host_threads_per_socket": host_threads(rows),
        "ram_w_per_gb": RAM_W_PER_GB,
        "ram_source": RAM_SOURCE,
        "ram_note": "the calibration's wall power already includes memory: ram_w is the memory part of total_w, "
        f"not an addition; the fit's own RAM term implies {implied_w_per_gb:.3f} W/GB at the median machine",
        "errors": {
            "model": error_figures(rows, [predict(coefs, bounds, r) for r in rows]),
            "model_default_tdp": error_figures(
                rows, [predict(coefs, bounds, r, w_per_thread * r.threads / r.sockets) for r in rows]
            ),
            "codecarbon": error_figures(rows, [codecarbon(r) for r in rows]),
            "codecarbon_assumption": f"{GB_PER_DIMM:g} GB per memory module, 5 W each",
            "temporal": {
                "fit": f"hardware up to {SPLIT_YEAR} ({len(old)} results)",
                "score": f"hardware after {SPLIT_YEAR} ({len(new)} results)",
                "model_on_older": error_figures(old, [predict(old_coefs, old_bounds, r) for r in old]),
                "model_on_newer": error_figures(new, [predict(old_coefs, old_bounds, r) for r in new]),
                "codecarbon_on_newer": error_figures(new, [codecarbon(r) for r in new]),
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Fit, print the error figures, and write the JSON (unless --dry-run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="?", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--dry-run", action="store_true", help="print the figures, write nothing")
    args = parser.parse_args(argv)
    path = args.sources / CALIBRATION
    if not path.is_file():
        print(f"fit_power_model: {path} not found; pass the sources folder", file=sys.stderr)
        return 2
    rows, skipped = load_rows(path)
    doc = build(rows, skipped)
    print(json.dumps(doc["errors"], indent=1))
    print("default W per thread:", doc["default_w_per_thread"], "|", doc["ram_note"])
    if not args.dry_run:
        OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
