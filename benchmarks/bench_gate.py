"""False alarms and detection of the regression gate on a real suite, beside today's single-run rule.

    python benchmarks/bench_gate.py [--baseline-runs 5] [--quiet-runs 20] [--regressed-runs 10] [--out FILE]

What it does, in a temporary folder:

1. Downloads the source distribution of mpmath 1.3.0 (a pure-Python suite nobody here wrote;
   its tests run from 1 ms to about 1 s) and runs its tests, leaving out four of 5-40 s, with
   the ``python`` that runs this script (pytest-carbon installed in it).
2. Starts a neighbour process that keeps one core busy half the time (50 ms on, 50 ms off),
   bounded in time, for the whole benchmark.
3. Fills a fresh history with ``--baseline-runs`` runs of unchanged code.
4. ``--quiet-runs`` runs of unchanged code with ``--carbon-compare=history
   --carbon-compare-fail=10%``, each against a copy of that history (so no run becomes a
   baseline): a run whose gate fails is a false alarm.
5. ``--regressed-runs`` runs where a conftest adds CPU work inside six tests: +50 % of their own
   CPU time to three, +30 % to three others; then as many runs with +15 % in every test (15 %
   of the test's whole CPU time, its set-up, call and tear-down, burnt in its tear-down by an
   autouse fixture), and as many with +15 % of every test's call only (what an earlier version
   of this benchmark injected: the session then sees about +12 %).
6. The same reports judged by today's rule (each figure against the last stored run: more than
   the threshold and the floor in attributed energy) for the comparison.

Prints a table and writes the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

SDIST = "mpmath==1.3.0"
DESELECT = ("bessel_zeros_extra", "elliptic_integrals", "polyroots_legendre")
PLUS_50 = (
    "mpmath/tests/test_hp.py::test_log_hp",
    "mpmath/tests/test_gammazeta.py::test_stieltjes",
    "mpmath/tests/test_levin.py::test_levin_3",
)
PLUS_30 = (
    "mpmath/tests/test_gammazeta.py::test_rs_zeta",
    "mpmath/tests/test_quad.py::test_quadosc",
    "mpmath/tests/test_functions2.py::test_hyper_3f2_etc",
)
THRESHOLD = 0.10

CONFTEST = """
import os
import time

import pytest

_EXTRA = {}
for part in os.environ.get("BENCH_EXTRA", "").split(","):
    if "=" in part:
        name, frac = part.rsplit("=", 1)
        _EXTRA[name] = float(frac)
_ALL = float(os.environ.get("BENCH_ALL", "0") or 0)
_ALL_CALL = float(os.environ.get("BENCH_ALL_CALL", "0") or 0)


def _burn(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x += i * i
    return x


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    start = time.thread_time()
    try:
        return (yield)
    finally:
        frac = _EXTRA.get(pyfuncitem.nodeid, 0.0) + _ALL_CALL
        if frac:
            _burn((time.thread_time() - start) * frac)


@pytest.fixture(autouse=True)
def _bench_whole_test():
    # set up first and torn down last of the test's function-scoped fixtures: the CPU time
    # between covers the test's set-up, call and tear-down, and the burn falls in its tear-down
    start = time.thread_time()
    yield
    if _ALL:
        _burn((time.thread_time() - start) * _ALL)
"""

NEIGHBOUR = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    t = time.monotonic() + 0.05
    while time.monotonic() < t:
        pass
    time.sleep(0.05)
"""


def fetch_suite(work: Path) -> Path:
    """The mpmath source tree with the injecting conftest."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", SDIST, "-d", str(work)],
        check=True,
    )
    archive = next(work.glob("mpmath-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    root = next(p for p in work.iterdir() if p.is_dir() and p.name.startswith("mpmath-"))
    (root / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\nmarkers = slow\n", encoding="utf-8")
    return root


def run_suite(root: Path, store: Path, out: Path, *, compare: bool, env: dict[str, str]) -> dict[str, Any]:
    """One metered run; its JSON report."""
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "mpmath/tests",
        "-k",
        " and ".join(f"not {name}" for name in DESELECT),
        "--carbon",
        "--carbon-region=FR",
        f"--carbon-store=sqlite:///{store}",
        f"--carbon-json={out}",
        "--carbon-project=mpmath-bench",
    ]
    if compare:
        args += ["--carbon-compare=history", f"--carbon-compare-fail={THRESHOLD * 100:g}%"]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if not out.exists():
        raise SystemExit(f"no report from the run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    report["_bench"] = {"returncode": proc.returncode, "wall_s": wall}
    return report


def old_rule(base: dict[str, Any], new: dict[str, Any]) -> tuple[bool, set[str]]:
    """Today's rule: attributed energy against one run, over the threshold and the floor."""

    def per_test(report: dict[str, Any]) -> dict[str, float]:
        return {t["nodeid"]: float(t["energy_j"]) for t in report["tests"]}

    b, n = per_test(base), per_test(new)
    flagged = {k for k, v in n.items() if k in b and v - b[k] > 0.05 and (b[k] == 0 or (v - b[k]) / b[k] > THRESHOLD)}
    s_b, s_n = base["session"]["energy_j"], new["session"]["energy_j"]
    session = s_n - s_b > 0.5 and (s_n - s_b) / s_b > THRESHOLD
    return session, flagged


def _added(report: dict[str, Any]) -> float:
    spent = float(((report.get("session") or {}).get("confirmations") or {}).get("duration_s") or 0.0)
    wall = float(report["_bench"]["wall_s"])
    return spent / max(wall - spent, 1e-9)


def _bound(report: dict[str, Any]) -> dict[str, Any]:
    """The confirmations' time against their bound, the repeats that took longest beyond their estimate, warnings."""
    conf = (report.get("session") or {}).get("confirmations") or {}
    repeats = sorted(conf.get("repeats") or [], key=lambda r: r["wall_s"] - r["expected_s"], reverse=True)
    return {
        "duration_s": conf.get("duration_s"),
        "allowed_s": conf.get("allowed_s"),
        "worst": repeats[:3],
        "warnings": [w for w in report.get("warnings", []) if "repeat" in w or "confirmations" in w],
    }


def _around(report: dict[str, Any], medians: dict[str, float], flagged: set[str], k: int = 6) -> dict[str, Any]:
    """Each flagged test's CPU time over its baseline median, beside the same for the tests run just before and after.

    What a burst on the machine looks like in the run: whether it lasted longer than the test.
    """
    order = [(t["nodeid"], t.get("cpu_time_s")) for t in report["tests"]]
    out: dict[str, Any] = {}
    for i, (nodeid, _) in enumerate(order):
        if nodeid not in flagged:
            continue
        near = []
        for j in range(max(0, i - k), min(len(order), i + k + 1)):
            name, cpu = order[j]
            base = medians.get(name)
            if cpu and base and base >= 0.002:
                near.append([j - i, round(base, 4), round(float(cpu) / base, 3)])
        out[nodeid] = near
    return out


def verdicts(report: dict[str, Any]) -> tuple[bool, bool, set[str], float]:
    comp = report.get("comparison") or {}
    flagged = {d["subject"] for d in comp.get("regressions", [])}
    conf = (report.get("session") or {}).get("confirmations") or {}
    share = float(conf.get("duration_s") or 0.0) / max(float(report["session"]["duration_s"]), 1e-9)
    return bool(comp.get("failed")), bool((comp.get("session") or {}).get("regressed")), flagged, share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--quiet-runs", type=int, default=20)
    parser.add_argument("--regressed-runs", type=int, default=10)
    parser.add_argument("--out", default="bench_gate.json")
    args = parser.parse_args()
    # a terminated benchmark still stops its neighbour (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    total = (args.baseline_runs + args.quiet_runs + 3 * args.regressed_runs) * 60 + 600
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR, str(total)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_CARBON", "BENCH_"))}
    results: dict[str, Any] = {"quiet": [], "regressed": [], "all15": [], "all15_call": []}
    try:
        root = fetch_suite(work)
        history = work / "history.sqlite"
        last: dict[str, Any] = {}
        base_cpu: dict[str, list[float]] = {}
        for i in range(args.baseline_runs):
            last = run_suite(root, history, work / f"base{i}.json", compare=False, env=env)
            for t in last["tests"]:
                if t.get("cpu_time_s"):
                    base_cpu.setdefault(t["nodeid"], []).append(float(t["cpu_time_s"]))
            print(
                f"baseline run {i + 1}: {len(last['tests'])} tests, {last['session']['duration_s']:.1f} s", flush=True
            )

        medians = {k: statistics.median(v) for k, v in base_cpu.items()}

        def judged(kind: str, i: int, extra_env: dict[str, str]) -> dict[str, Any]:
            copy = work / f"h-{kind}-{i}.sqlite"
            shutil.copyfile(history, copy)
            report = run_suite(root, copy, work / f"{kind}{i}.json", compare=True, env={**env, **extra_env})
            copy.unlink()
            failed, session_reg, flagged, share = verdicts(report)
            old_session, old_flagged = old_rule(last, report)
            session = (report.get("comparison") or {}).get("session") or {}
            row = {
                "failed": failed,
                "session_regressed": session_reg,
                "session_relative": session.get("relative"),
                "session_p": session.get("p_value"),
                "flagged": sorted(flagged),
                "confirm_share": share,
                # what the confirmations added to the run: their time over the rest of the run's wall time
                "confirm_added": _added(report),
                "duration_s": report["session"]["duration_s"],
                "old_failed": old_session or bool(old_flagged),
                "old_session": old_session,
                "old_flagged": sorted(old_flagged),
                "returncode": report["_bench"]["returncode"],
                # why: each injected test's own figures, and the reasons of what was flagged
                "injected": {
                    t["nodeid"]: {"cpu_time_s": t.get("cpu_time_s"), "confirmations": t.get("confirmations")}
                    for t in report["tests"]
                    if t["nodeid"] in PLUS_50 + PLUS_30
                },
                "reasons": {
                    d["subject"]: d.get("reason") for d in (report.get("comparison") or {}).get("regressions", [])
                },
                "bound": _bound(report),
                "around": _around(report, medians, set(flagged) - set(PLUS_50 + PLUS_30)),
                "controls": {
                    k: v
                    for k, v in ((report.get("session") or {}).get("confirmations") or {}).items()
                    if k in ("controls", "repeat_ratio", "comparable", "modules")
                },
            }
            print(
                f"{kind} {i + 1}: gate {'FAIL' if failed else 'pass'} ({len(flagged)} flagged, session "
                f"{'regressed' if session_reg else 'ok'}, confirmations {share * 100:.1f}%); old rule "
                f"{'FAIL' if row['old_failed'] else 'pass'} ({len(old_flagged)} flagged)",
                flush=True,
            )
            return row

        for i in range(args.quiet_runs):
            results["quiet"].append(judged("quiet", i, {}))
        extra = ",".join([f"{n}=0.5" for n in PLUS_50] + [f"{n}=0.3" for n in PLUS_30])
        for i in range(args.regressed_runs):
            results["regressed"].append(judged("regressed", i, {"BENCH_EXTRA": extra}))
        for i in range(args.regressed_runs):
            results["all15"].append(judged("all15", i, {"BENCH_ALL": "0.15"}))
        for i in range(args.regressed_runs):
            results["all15_call"].append(judged("all15_call", i, {"BENCH_ALL_CALL": "0.15"}))
    finally:
        neighbour.kill()
        neighbour.wait()
    summary = summarise(results)
    results["summary"] = summary
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    for line in summary["lines"]:
        print(line)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    quiet, reg, all15 = results["quiet"], results["regressed"], results["all15"]
    all15_call = results.get("all15_call", [])
    lines = ["| figure | new gate | today's rule | target |", "|---|---:|---:|---:|"]

    def rate(rows: list[dict[str, Any]], test: Any) -> str:
        return f"{sum(1 for r in rows if test(r))} of {len(rows)}"

    lines.append(
        f"| false alarms, unchanged code (runs failed) | {rate(quiet, lambda r: r['failed'])} | "
        f"{rate(quiet, lambda r: r['old_failed'])} | at most 1 in 20 |"
    )
    for name in PLUS_50 + PLUS_30:
        target = "95 %" if name in PLUS_50 else "80 %"
        share = "+50 %" if name in PLUS_50 else "+30 %"
        lines.append(
            f"| {share} caught: `{name.split('::')[1]}` | {rate(reg, lambda r, n=name: n in r['flagged'])} | "
            f"{rate(reg, lambda r, n=name: n in r['old_flagged'])} | {target} |"
        )
    injected = set(PLUS_50 + PLUS_30)
    others: dict[str, int] = {}
    for r in quiet + reg:
        for n in r["flagged"]:
            if n not in injected:
                others[n] = others.get(n, 0) + 1
    worst = max(others.values(), default=0)
    old_others: dict[str, int] = {}
    for r in quiet + reg:
        for n in r["old_flagged"]:
            if n not in injected:
                old_others[n] = old_others.get(n, 0) + 1
    lines.append(
        f"| most flags of one untouched test (in {len(quiet) + len(reg)} runs) | {worst} | "
        f"{max(old_others.values(), default=0)} | at most 1 in 20 |"
    )
    lines.append(
        f"| +15 % in every test (whole test) caught at session level | "
        f"{rate(all15, lambda r: r['session_regressed'])} | {rate(all15, lambda r: r['old_session'])} | 90 % |"
    )
    lines.append(
        f"| +15 % of every test's call only, caught at session level | "
        f"{rate(all15_call, lambda r: r['session_regressed'])} | {rate(all15_call, lambda r: r['old_session'])} | |"
    )
    for name, rows in (("whole test", all15), ("call only", all15_call)):
        changes = sorted(r["session_relative"] for r in rows if r.get("session_relative") is not None)
        if changes:
            lines.append(
                f"| session change seen, +15 % ({name}): median, min-max | {statistics.median(changes) * 100:+.1f} %, "
                f"{changes[0] * 100:+.1f} to {changes[-1] * 100:+.1f} % | | |"
            )
    null = sorted(r["session_relative"] for r in quiet if r.get("session_relative") is not None)
    if null:
        lines.append(
            f"| session change seen, unchanged code: median, min-max | {statistics.median(null) * 100:+.1f} %, "
            f"{null[0] * 100:+.1f} to {null[-1] * 100:+.1f} % | | |"
        )
    shares = [r["confirm_share"] for r in quiet + reg + all15 + all15_call] or [0.0]
    lines.append(
        f"| time of the confirmations, share of the session's metered time (median, max) | "
        f"{statistics.median(shares) * 100:.1f} %, {max(shares) * 100:.1f} % | - | |"
    )
    added = [r["confirm_added"] for r in quiet + reg + all15 + all15_call if "confirm_added" in r]
    if added:
        lines.append(
            f"| time the confirmations added to the run's wall time (median, max) | "
            f"{statistics.median(added) * 100:.1f} %, {max(added) * 100:.1f} % | - | at most 10 % |"
        )
    suspects = [r for r in quiet if r.get("controls") or any(v.get("confirmations") for v in r["injected"].values())]
    lines.append(f"| unchanged runs with a test measured again | {len(suspects)} of {len(quiet)} | | |")
    durations = [r["duration_s"] for r in quiet]
    if durations:  # none with --quiet-runs 0
        lines.append(
            f"| run time, unchanged code (median, min-max) | {statistics.median(durations):.1f} s, "
            f"{min(durations):.1f}-{max(durations):.1f} s | | |"
        )
    return {"lines": lines, "untouched_flags": others}


if __name__ == "__main__":
    raise SystemExit(main())
