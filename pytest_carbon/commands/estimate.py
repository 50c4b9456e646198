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

from pytest_carbon.errors import ConfigError, ProbeError

_FIELDS = {"cpu_model", "threads", "sockets", "ram_gb", "load", "tdp_w", "virtual"}
#: optional fields of a JSON line (and flags) that describe the machine further, as estimate() names them
_EXTRA = {"instance", "machine_class", "year", "vendor", "host_threads", "host_sockets", "host_ram_gb"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the estimate command."""
    parser.add_argument("--cpu-model", help="CPU model as the vendor writes it (default: this machine's)")
    parser.add_argument("--threads", help="logical CPUs of the machine (default: this machine's)")
    parser.add_argument("--sockets", help="CPU sockets (default 1, or this machine's)")
    parser.add_argument("--ram-gb", help="installed memory in GB (default: this machine's)")
    parser.add_argument("--load", default="0.5", help="CPU load, 0 to 1 (default 0.5)")
    parser.add_argument("--tdp-w", help="TDP per socket in W, instead of the table's")
    parser.add_argument("--vm", action="store_true", help="model a virtual machine: its share of a host")
    parser.add_argument("--instance", help="cloud instance type (m5.large, Standard_D4ads_v5): a VM on its host")
    parser.add_argument(
        "--class",
        dest="machine_class",
        choices=("server", "desktop", "laptop", "apple", "vm"),
        help="machine class, instead of the one told by the CPU name",
    )
    parser.add_argument("--year", help="the CPU's release year, instead of the facts table's")
    parser.add_argument("--vendor", help="intel, amd, apple or arm, instead of the facts table's")
    parser.add_argument("--host-threads", help="a VM's host: threads per socket")
    parser.add_argument("--host-sockets", help="a VM's host: sockets")
    parser.add_argument("--host-ram-gb", help="a VM's host: memory in GB")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--jsonl", action="store_true", help="batch: JSON lines on stdin, one JSON answer per line")


def _number(name: str, text: str | None, whole: bool = False) -> float | int | None:
    if text is None:
        return None
    try:
        value: float | int = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"--{name.replace('_', '-')} must be {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"--{name.replace('_', '-')} must be a finite number, got {text!r}")
    return value


def _single(args: argparse.Namespace) -> int:
    from pytest_carbon.probes.model import estimate

    threads = _number("threads", args.threads, whole=True)
    sockets = _number("sockets", args.sockets, whole=True)
    ram_gb = _number("ram_gb", args.ram_gb)
    load = _number("load", args.load)
    tdp_w = _number("tdp_w", args.tdp_w)
    extra: dict[str, Any] = {
        "year": _number("year", args.year, whole=True),
        "host_threads": _number("host_threads", args.host_threads, whole=True),
        "host_sockets": _number("host_sockets", args.host_sockets, whole=True),
        "host_ram_gb": _number("host_ram_gb", args.host_ram_gb),
        "instance": args.instance,
        "machine_class": args.machine_class,
        "vendor": args.vendor.casefold() if args.vendor else None,
    }
    cpu_model = args.cpu_model
    virtual = bool(args.vm)
    described = cpu_model is not None or threads is not None or args.instance is not None
    if not described:
        from pytest_carbon.probes.cpuinfo import this_machine

        spec = this_machine()
        cpu_model, virtual = spec.cpu_model, virtual or bool(spec.virtual)
        threads = spec.threads
        sockets = spec.sockets if sockets is None else sockets
        ram_gb = spec.ram_gb if ram_gb is None else ram_gb
        extra["chassis"] = spec.chassis
        extra["reported_vendor"] = spec.vendor
        if spec.instance_type and extra["instance"] is None:
            from pytest_carbon.probes.tdp import cloud_host

            extra["instance"] = spec.instance_type if cloud_host(spec.instance_type) else None
    if threads is None and args.instance is not None:
        from pytest_carbon.probes.tdp import cloud_host

        host = cloud_host(args.instance)
        threads = host.vcpu if host else None
        if host and ram_gb is None:
            ram_gb = host.memory_gb
    if threads is None:
        raise ConfigError("--threads is needed with --cpu-model")
    try:
        result = estimate(
            cpu_model,
            int(threads),
            int(sockets if sockets is not None else 1),
            float(ram_gb or 0.0),
            float(load if load is not None else 0.5),
            tdp_w,
            virtual=virtual,
            **extra,
        )
    except ProbeError as err:  # the model's data cannot be read: exit 1 (a ModelInputError: its message, exit 2)
        print(f"pytest-carbon estimate: {err}", file=sys.stderr)
        return 1
    doc = _with_note(result.as_dict())
    doc["machine"] = "this machine" if not described else "described"
    doc["virtual"] = virtual
    if args.json:
        print(json.dumps(doc))
        return 0
    given = cpu_model or ("(the instance's host)" if extra.get("instance") else "unknown")
    print(f"CPU model     {given} -> {result.cpu_model or '(nothing to look up)'}")
    print(f"TDP           {result.tdp_w_used:.1f} W per socket ({result.tdp_source})")
    if result.tdp_source == "default":
        print("              not in the TDP table: estimated from a per-thread figure of the calibration")
    year = f"{result.year}" if result.year is not None else "unknown"
    if result.year_used is not None and result.year_used != result.year:
        year += f" (modelled as {result.year_used})"
    print(f"class         {result.machine_class}, vendor {result.vendor}, year {year}")
    if result.host is not None and result.host_share is not None:
        h = result.host
        print(
            f"VM share      {result.host_share:.4f} of a host of {h['sockets']} x {h['threads_per_socket']} threads, "
            f"{h['ram_gb']:g} GB ({h['source']})"
        )
    print(f"CPU and board {result.cpu_w:.2f} W")
    print(f"memory        {result.ram_w:.2f} W")
    print(f"total (wall)  {result.total_w:.2f} W{_band_text(result)}, idle {result.idle_w:.2f} W")
    for note in result.notes:
        print(f"note          {note}")
    return 0


def _band_text(result: Any) -> str:
    band = result.band
    if band is None:
        return ""
    return f" ± {band.p50_pct:.0f} % (P50; P90 {band.p90_pct:.0f} %)"


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
    unknown = sorted(set(item) - _FIELDS - _EXTRA)
    if unknown:
        return {"error": f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(_FIELDS | _EXTRA))}"}
    if "threads" not in item:
        return {"error": "threads is required"}
    extra = {name: item[name] for name in _EXTRA if name in item}
    try:
        result = estimate(
            item.get("cpu_model"),
            item["threads"],
            item.get("sockets", 1),
            item.get("ram_gb", 0.0),
            item.get("load", 0.0),
            item.get("tdp_w"),
            virtual=bool(item.get("virtual", False)),
            **extra,
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
            raise ConfigError("--jsonl reads machines from stdin; drop the other flags")
        return _batch()
    return _single(args)
