"""``pytest-carbon probes``: what this machine can measure, what it cannot, why, and the fix."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from pytest_carbon.probes.base import ProbeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the command."""
    parser.add_argument("--json", action="store_true", help="print the findings as JSON, for scripts")
    parser.add_argument(
        "--rapl-root",
        metavar="PATH",
        default=None,
        help="folder of the powercap tree (default: carbon_rapl_root's environment variable, else /sys/class/powercap)",
    )


def _rapl(root: str | None) -> dict[str, Any]:
    from pytest_carbon.probes.rapl import DEFAULT_ROOT, discover, permission_message, udev_fix

    found = discover(root)
    domains: list[dict[str, Any]] = []
    closed = False
    for domain in found.domains:
        path = domain.path / "energy_uj"
        entry: dict[str, Any] = {
            "zone": domain.zone,
            "name": domain.label,
            "component": domain.component,
            "max_energy_range_uj": domain.max_range_uj,
            "readable": False,
            "error": None,
        }
        try:
            with open(path, "rb") as fh:
                int(fh.read().split(b"\n", 1)[0])
            entry["readable"] = True
        except PermissionError:
            closed = True
            entry["error"] = "permission denied"
        except (OSError, ValueError) as err:
            entry["error"] = getattr(err, "strerror", None) or str(err)
        domains.append(entry)
    readable = [d for d in domains if d["readable"]]
    if not domains:
        status = "absent"
        why = f"no RAPL package or DRAM zone under {found.root}; virtual machines and most CI runners expose none"
        fix = (
            "on bare-metal Intel or AMD Linux, load the driver: sudo modprobe intel_rapl_msr"
            if found.root == DEFAULT_ROOT
            else "check the path given as the powercap root"
        )
    elif closed and not readable:
        status = "closed"
        first = next(d for d in domains if d["error"] == "permission denied")
        why = permission_message(f"{found.root}/{first['zone']}/energy_uj", found.root).split(". To open")[0]
        fix = udev_fix(found.root)
    elif not readable:
        status = "unreadable"
        why = "the counters cannot be read: " + ", ".join(f"{d['zone']} ({d['error']})" for d in domains)
        fix = "check the powercap tree; the power model is used meanwhile"
    elif len(readable) < len(domains):
        status = "partly readable"
        why = "some counters cannot be read: " + ", ".join(f"{d['zone']} ({d['error']})" for d in domains)
        fix = udev_fix(found.root) if closed else "see the errors above"
    else:
        status = "measured"
        why = None
        fix = None
    covers = sorted({d["component"] for d in readable})
    if status == "measured" and "ram" not in covers:
        why = "no DRAM domain here: memory is estimated by the power model"
    return {
        "root": found.root,
        "status": status,
        "components": covers,
        "domains": domains,
        "notes": found.notes,
        "why": why,
        "fix": fix,
    }


def _bindings_line(installed: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in installed.items()) or "none"


def _nvml() -> dict[str, Any]:
    from pytest_carbon.probes._common import NotPresent
    from pytest_carbon.probes.nvml import INSTALL_HINT, NvmlProbe, installed_bindings

    installed = installed_bindings()  # metadata only: nothing is imported for it
    found: dict[str, Any] = {
        "status": "absent",
        "gpus": [],
        "notes": [],
        "why": None,
        "fix": None,
        "installed_bindings": installed,
        "bindings": None,
        "driver_version": None,
        "nvml_version": None,
        "cuda_driver_version": None,
    }
    # a diagnosis may look harder than a test run: the bindings are tried even where the cheap look
    # sees no driver (a library in a place it does not know); without bindings, nothing is imported
    probe = NvmlProbe(required=True)
    try:
        probe.start()
    except ProbeError as err:
        text = str(err)
        found["status"] = "absent" if isinstance(err, NotPresent) else "unavailable"
        found["why"] = text.removeprefix("NVML: ")
        if not isinstance(err, NotPresent):
            found["fix"] = INSTALL_HINT if "pip install" in text else "run nvidia-smi to check the driver"
        if probe.bindings is not None:
            found["bindings"] = probe.bindings.as_dict()
            found["notes"] = probe.bindings.notes()
        found.update(
            driver_version=probe.versions["driver"],
            nvml_version=probe.versions["nvml"],
            cuda_driver_version=probe.versions["cuda_driver"],
        )
        return found
    try:
        desc = probe.describe()
    finally:
        probe.close()
    inputs = desc["inputs"]
    found.update(
        status="measured",
        gpus=inputs["gpus"],
        notes=desc["notes"],
        bindings=inputs["bindings"],
        driver_version=inputs["driver_version"],
        nvml_version=inputs["nvml_version"],
        cuda_driver_version=inputs["cuda_driver_version"],
    )
    if "pynvml" in installed and "nvidia-ml-py" not in installed:
        found["fix"] = INSTALL_HINT
    return found


def _nvml_versions(nvml: dict[str, Any]) -> str:
    """One line: the bindings used (or installed) and the versions NVML gave."""
    bindings = nvml.get("bindings") or {}
    if bindings.get("package"):
        used = f"{bindings['package']} {bindings.get('version') or '(version unknown)'}"
    elif bindings.get("file"):
        used = f"a pynvml module of no known package ({bindings['file']})"
    else:
        used = None
    parts = [f"bindings {used}" if used else f"bindings installed: {_bindings_line(nvml['installed_bindings'])}"]
    for key, label in (("driver_version", "driver"), ("nvml_version", "NVML"), ("cuda_driver_version", "CUDA")):
        if nvml.get(key):
            parts.append(f"{label} {nvml[key]}")
    return "NVML: " + ", ".join(parts)


def _model() -> dict[str, Any]:
    try:
        from pytest_carbon.probes.select import _model as make_model

        probe = make_model(("cpu", "ram"))
        probe.start()
        desc = probe.describe()
        probe.close()
    except (ImportError, ProbeError) as err:
        return {"status": "unavailable", "why": str(err), "inputs": {}, "notes": []}
    return {"status": "estimated", "why": None, "inputs": desc.get("inputs", {}), "notes": desc.get("notes", [])}


def _auto(root: str | None) -> dict[str, Any]:
    from pytest_carbon.probes.select import select_probes

    selection = select_probes("auto", os.environ, rapl_root=root)
    try:
        used = [{"name": p.name, "components": list(p.components), "measured": p.measured} for p in selection.probes]
    finally:
        for probe in selection.probes:
            probe.close()
    return {"probes": used, "problems": selection.problems}


def collect(root: str | None) -> dict[str, Any]:
    """Everything the command shows, as a JSON-ready dict."""
    return {"rapl": _rapl(root), "nvml": _nvml(), "model": _model(), "auto": _auto(root)}


def _render(found: dict[str, Any]) -> str:
    rapl, nvml, model, auto = found["rapl"], found["nvml"], found["model"], found["auto"]
    rows: list[tuple[str, str, str]] = []
    if rapl["domains"]:
        for d in rapl["domains"]:
            state = "measured" if d["readable"] else f"not readable: {d['error']}"
            rows.append((d["component"], f"RAPL {d['zone']} ({d['name']})", state))
    else:
        rows.append(("cpu, ram", "RAPL", "absent"))
    if nvml["gpus"]:
        for g in nvml["gpus"]:
            rows.append(("gpu", f"NVML GPU {g['index']} ({g['name']})", f"measured: {g['source']}"))
    else:
        rows.append(("gpu", "NVML", nvml["status"]))
    rows.append(("cpu, ram", "power model", model["status"]))
    widths = [max(len(r[i]) for r in [*rows, ("component", "source", "state")]) for i in range(3)]
    lines = ["component".ljust(widths[0]) + "  " + "source".ljust(widths[1]) + "  state"]
    lines.append("-" * (widths[0] + widths[1] + widths[2] + 4))
    lines += [f"{a.ljust(widths[0])}  {b.ljust(widths[1])}  {c}" for a, b, c in rows]
    lines.append("")
    for label, part in (("RAPL", rapl), ("NVML", nvml), ("power model", model)):
        if label == "NVML":
            lines.append(_nvml_versions(nvml))
        if part.get("why"):
            lines.append(f"{label}: {part['why']}")
        if part.get("fix"):
            lines.append(f"  fix: {part['fix']}")
    for note in rapl["notes"] + nvml["notes"]:
        lines.append(f"note: {note}")
    used = ", ".join(f"{p['name']} ({'+'.join(p['components'])})" for p in auto["probes"]) or "none"
    lines.append("")
    lines.append(f"pytest --carbon would use: {used}")
    for problem in auto["problems"]:
        lines.append(f"  problem: {problem}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print what this machine can measure; always exit 0 (it is a report, not a check)."""
    root = args.rapl_root or os.environ.get("PYTEST_CARBON_RAPL_ROOT") or None
    found = collect(root)
    if args.json:
        print(json.dumps(found, indent=2, sort_keys=True))
    else:
        print(_render(found))
    return 0
