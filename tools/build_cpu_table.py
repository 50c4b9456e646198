"""Build ``pytest_carbon/data/cpu_tdp.csv`` (normalised CPU name -> TDP per socket) and its NOTICE.

Usage: ``python tools/build_cpu_table.py [SOURCES] [--check]``

SOURCES defaults to ``../shared/sources`` next to the repository; the input is its ``cpu_tdp.csv``
(CodeCarbon's CPU table, MIT). Names go through ``pytest_carbon.probes.tdp.normalise``, the same
function a lookup uses. Names that collapse to one (e.g. "AMD Phenom II X4 945 (125W)" and
"(95W)") keep the larger TDP. The output is sorted, so rebuilding is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pytest_carbon.probes.tdp import normalise  # noqa: E402

DEFAULT_SOURCES = REPO.parent / "shared" / "sources"
OUT_DIR = REPO / "pytest_carbon" / "data"

NOTICE = """\
CPU thermal design power table shipped with pytest-carbon
==========================================================

cpu_tdp.csv
  Thermal design power (W per socket) of {rows} CPU models, names normalised by
  pytest_carbon.probes.tdp.normalise. Derived from the CPU table of CodeCarbon
  (https://github.com/mlco2/codecarbon, file codecarbon/data/hardware/cpu_power.csv),
  which was collected from vendor specification pages. Used under the MIT licence:

  MIT License

  Copyright (c) 2019 Mila, BCG Gamma, CometML, Haverford College
  Copyright (c) 2023 Code Carbon NGO

  Permission is hereby granted, free of charge, to any person obtaining a copy
  of this software and associated documentation files (the "Software"), to deal
  in the Software without restriction, including without limitation the rights
  to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
  copies of the Software, and to permit persons to whom the Software is
  furnished to do so, subject to the following conditions:

  The above copyright notice and this permission notice shall be included in all
  copies or substantial portions of the Software.

  THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
  IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
  FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
  AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
  LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
  OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
  SOFTWARE.

power_model.json
  Coefficients of the power model, fitted by tools/fit_power_model.py on SPECpower_ssj2008
  results (hardware available before 2019) as collected by green-coding-solutions/cloud-energy
  (MIT). Only fitted coefficients and validation figures are shipped, not the results themselves.
  Its laptop and desktop fractions are the Teads ratios of CPU power to TDP as used by Boavizta;
  its memory figure for desktops is Cloud Carbon Footprint's 0.392 W/GB (Apache-2.0).

cpu_facts.csv
  Release year, vendor, cores, threads and TDP per socket of CPU models: TechPowerUp CPU
  database via Boavizta (boaviztapi 2.5.0, crowdsourcing/cpu_specs.csv, whose source column
  names each TechPowerUp page). Factual columns only. Built by tools/build_cpu_facts.py, which
  fills a missing year from the CPU's code name and leaves implausible figures empty.

cloud_hosts.csv
  Host platform (CPU, sockets, threads per socket, memory) of cloud instance types of AWS,
  Azure, GCP, Scaleway and OVHcloud: Boavizta's cloud archetypes (boaviztapi 2.5.0,
  archetypes/cloud/*.csv joined with archetypes/server.csv, themselves from the providers'
  documentation and instances.vantage.sh). Built by tools/build_cpu_facts.py, which checks each
  host against cpu_facts.csv and drops implausible figures (the "checked" column says which).
"""


def build(source: Path) -> tuple[str, int, int]:
    """CSV text of the built table, its row count, and the number of merged names."""
    best: dict[str, tuple[str, float]] = {}
    merged = 0
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = normalise(row["Name"])
            try:
                tdp_w = float(row["TDP"])
            except (TypeError, ValueError):
                continue
            if not name or tdp_w <= 0:
                continue
            folded = name.casefold()
            if folded in best:
                merged += 1
                if tdp_w <= best[folded][1]:
                    continue
            best[folded] = (name, tdp_w)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "tdp_w"])
    # one row per case-folded name, sorted by it: the plugin's lookup is a binary search over these lines
    for folded in sorted(best):
        name, tdp_w = best[folded]
        if "," in name or '"' in name:
            # the plugin splits each line at its last comma, without a CSV parser
            raise SystemExit(f"a CPU name with a comma or a quote cannot be shipped: {name!r}")
        writer.writerow([name, f"{tdp_w:g}"])
    return out.getvalue(), len(best), merged


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the table and NOTICE."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="?", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files differ")
    args = parser.parse_args(argv)
    source = args.sources / "cpu_tdp.csv"
    if not source.is_file():
        print(f"build_cpu_table: {source} not found; pass the sources folder", file=sys.stderr)
        return 2
    table, rows, merged = build(source)
    notice = NOTICE.format(rows=rows)
    outputs = {OUT_DIR / "cpu_tdp.csv": table, OUT_DIR / "NOTICE": notice}
    if args.check:
        stale = [str(p) for p, text in outputs.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {rows} CPU models ({merged} names merged into others) to {OUT_DIR / 'cpu_tdp.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
