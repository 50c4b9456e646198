"""Take the README's screenshots: the dashboard and one run's HTML page, from real runs, in headless Chromium.

Usage: ``python tools/screenshots.py [--runs N] [--out docs]``

Runs the demo suite (``examples/demo``) N times (3 by default) with ``--carbon`` into a fresh
history in a temporary folder, writes the dashboard of that history and the last run's HTML page,
and saves ``dashboard.png`` and ``run.png`` into OUT. Needs Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("Chromium is not installed (apt-get install chromium)")


def shoot(page: Path, png: Path, work: Path, height: int) -> None:
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={work / 'profile'}",
            f"--window-size=1200,{height}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store = work / "history.sqlite"
        for _ in range(args.runs):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "--carbon",
                    "--carbon-region=FR",
                    f"--carbon-store={store}",
                    f"--carbon-html={work / 'run.html'}",
                    str(ROOT / "examples" / "demo"),
                ],
                check=True,
                cwd=work,
            )
        site = work / "site"
        subprocess.run(
            [sys.executable, "-m", "pytest_carbon.cli", "dashboard", "--store", str(store), "-o", str(site)],
            check=True,
        )
        args.out.mkdir(parents=True, exist_ok=True)
        shoot(site / "index.html", args.out / "dashboard.png", work, 2200)
        shoot(work / "run.html", args.out / "run.png", work, 1800)
    print(f"wrote {args.out / 'dashboard.png'} and {args.out / 'run.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
