"""``pytest-carbon estimate``: what would this (or a described) machine draw at the wall?

Single mode takes the machine from flags (or detects this one); ``--jsonl`` reads one JSON
object per line on standard input and answers each on its own line, an ``{"error": ...}`` for a
bad line, and goes on.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from pytest_carbon.probes.base import ProbeError

_FIELDS = {"cpu_model", "threads", "sockets", "ram_gb", "load", "tdp_w", "virtual"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the estimate command."""
    parser.add_argument("--cpu-model", help="CPU model as the vendor writes it (default: this machine's)")
    parser.add_argument("--threads", help="logical CPUs of the machine (default: this machine's)")
    parser.add_argument("--sockets", help="CPU sockets (default 1, or this machine's)")
    parser.add_argument("--ram-gb", help="installed memory in GB (default: this machine's)")
    parser.add_argument("--load", default="0.5", help="CPU load, 0 to 1 (default 0.5)")
    parser.add_argument("--tdp-w", help="TDP per socket in W, instead of the table's")
    parser.add_argument("--vm", action="store_true", help="model a virtual machine: its share of one host socket")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--jsonl", action="store_true", help="batch: JSON lines on stdin, one JSON answer per line")


def _number(name: str, text: str | None, whole: bool = False) -> float | int | None:
    if text is None:
        return None
    try:
        value: float | int = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"--{name.replace('_', '-')} must be {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"--{name.replace('_', '-')} must be a finite number, got {text!r}")
    return value


def _single(args: argparse.Namespace) -> int:
    from pytest_carbon.probes.model import ModelInputError, estimate

    try:
        threads = _number("threads", args.threads, whole=True)
        sockets = _number("sockets", args.sockets, whole=True)
        ram_gb = _number("ram_gb", args.ram_gb)
        load = _number("load", args.load)
        tdp_w = _number("tdp_w", args.tdp_w)
    except ValueError as err:
        print(f"pytest-carbon estimate: {err}", file=sys.stderr)
        return 2
    cpu_model = args.cpu_model
    virtual = bool(args.vm)
    described = cpu_model is not None or threads is not None
    if not described:
        from pytest_carbon.probes.cpuinfo import this_machine

        spec = this_machine()
        cpu_model, virtual = spec.cpu_model, virtual or bool(spec.virtual)
        threads = spec.threads
        sockets = spec.sockets if sockets is None else sockets
        ram_gb = spec.ram_gb if ram_gb is None else ram_gb
    if threads is None:
        print("pytest-carbon estimate: --threads is needed with --cpu-model", file=sys.stderr)
        return 2
    try:
        result = estimate(
            cpu_model,
            int(threads),
            int(sockets if sockets is not None else 1),
            float(ram_gb or 0.0),
            float(load if load is not None else 0.5),
            tdp_w,
            virtual=virtual,
        )
    except ModelInputError as err:
        print(f"pytest-carbon estimate: {err}", file=sys.stderr)
        return 2
    except ProbeError as err:
        print(f"pytest-carbon estimate: {err}", file=sys.stderr)
        return 1
    doc = _with_note(result.as_dict())
    doc["machine"] = "this machine" if not described else "described"
    doc["virtual"] = virtual
    if args.json:
        print(json.dumps(doc))
        return 0
    print(f"CPU model     {cpu_model or 'unknown'} -> {result.cpu_model or '(nothing to look up)'}")
    print(f"TDP           {result.tdp_w_used:.1f} W per socket ({result.tdp_source})")
    if result.tdp_source == "default":
        print("              not in the TDP table: estimated from a per-thread figure of the calibration")
    if result.host_share is not None:
        print(f"VM share      {result.host_share:.4f} of a {result.host_threads}-thread host socket")
    print(f"CPU and board {result.cpu_w:.2f} W")
    print(f"memory        {result.ram_w:.2f} W")
    print(f"total (wall)  {result.total_w:.2f} W, idle {result.idle_w:.2f} W")
    return 0


def _line_answer(line: str) -> dict[str, Any]:
    from pytest_carbon.probes.model import ModelInputError, estimate

    if not line.strip():
        return {"error": "empty line: expected one JSON object"}
    try:
        item = json.loads(line)
    except ValueError as err:
        return {"error": f"invalid JSON: {err}"}
    except RecursionError:
        return {"error": "invalid JSON: nested too deeply; expected one flat JSON object"}
    if not isinstance(item, dict):
        return {"error": "expected a JSON object with cpu_model, threads, sockets, ram_gb, load"}
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        return {"error": f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(_FIELDS))}"}
    if "threads" not in item:
        return {"error": "threads is required"}
    try:
        result = estimate(
            item.get("cpu_model"),
            item["threads"],
            item.get("sockets", 1),
            item.get("ram_gb", 0.0),
            item.get("load", 0.0),
            item.get("tdp_w"),
            virtual=bool(item.get("virtual", False)),
        )
    except ModelInputError as err:
        return {"error": str(err)}
    return _with_note(result.as_dict())


def _with_note(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["tdp_source"] == "default":
        doc["note"] = "CPU model not in the TDP table: TDP from a per-thread figure of the calibration"
    return doc


def _batch() -> int:
    try:
        from pytest_carbon.probes.model import coefficients

        coefficients()
    except ProbeError as err:
        print(f"pytest-carbon estimate: {err}", file=sys.stderr)
        return 1
    bad = 0
    for line in sys.stdin:
        answer = _line_answer(line.rstrip("\n"))
        bad += "error" in answer
        sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0 if not bad else 1


def run(args: argparse.Namespace) -> int:
    """Estimate one machine, or a batch of JSON lines."""
    if args.jsonl:
        flags = [args.cpu_model, args.threads, args.sockets, args.ram_gb, args.tdp_w]
        if any(f is not None for f in flags) or args.json:
            print("pytest-carbon estimate: --jsonl reads machines from stdin; drop the other flags", file=sys.stderr)
            return 2
        return _batch()
    return _single(args)
