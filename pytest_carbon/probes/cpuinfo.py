"""What CPU and memory this machine has, and whether it is a virtual machine, without py-cpuinfo.

Linux reads ``/proc/cpuinfo``, ``/proc/meminfo`` and the DMI files under ``/sys/class/dmi/id``;
macOS asks ``sysctl``; Windows uses the ``platform`` module. Every reader takes the filesystem
root as an argument, so tests point it at a fake tree. The default path reads a few small files
(well under 5 ms); ``systemd-detect-virt`` is run only when neither the CPU's hypervisor flag nor
the DMI vendor has answered.
"""

from __future__ import annotations

import functools
import os
import platform
import re
from pathlib import Path
from typing import NamedTuple

#: DMI vendor or product substrings (lower case) -> hypervisor name
_DMI_HYPERVISORS = (
    ("amazon ec2", "amazon"),
    ("google compute engine", "google"),
    ("microsoft corporation virtual", "microsoft"),
    ("virtual machine", "microsoft"),
    ("vmware", "vmware"),
    ("virtualbox", "oracle"),
    ("innotek", "oracle"),
    ("qemu", "qemu"),
    ("kvm", "kvm"),
    ("xen", "xen"),
    ("openstack", "openstack"),
    ("bochs", "bochs"),
    ("parallels", "parallels"),
    ("digitalocean", "kvm"),
    ("hetzner", "kvm"),
)
_DMI_FILES = ("sys_vendor", "product_name", "bios_vendor", "board_vendor", "chassis_vendor")

#: ARM implementer 0x41 part numbers of server cores (Arm's technical reference manuals)
_ARM_PARTS = {
    "0xd0c": "ARM Neoverse N1",
    "0xd40": "ARM Neoverse V1",
    "0xd49": "ARM Neoverse N2",
    "0xd4f": "ARM Neoverse V2",
}


class MachineSpec(NamedTuple):
    """The facts the power model needs about a machine."""

    cpu_model: str | None
    vendor: str | None
    sockets: int
    cores: int
    threads: int
    ram_gb: float
    virtual: bool | None
    hypervisor: str | None
    virt_method: str | None
    #: "laptop", "desktop" or "server" from the DMI chassis type, None when not told
    chassis: str | None = None
    #: the cloud instance type where the DMI product name gives it (AWS: "m5.large"), else None
    instance_type: str | None = None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


class CpuInfo:
    """What /proc/cpuinfo says."""

    __slots__ = ("cores", "flags", "model", "sockets", "threads", "vendor")

    def __init__(
        self, model: str | None, vendor: str | None, flags: frozenset[str], sockets: int, cores: int, threads: int
    ) -> None:
        self.model = model
        self.vendor = vendor
        self.flags = flags
        self.sockets = sockets
        self.cores = cores
        self.threads = threads


def parse_proc_cpuinfo(text: str) -> CpuInfo:
    """Model, vendor, sockets, cores, threads and flags from the text of /proc/cpuinfo."""
    model: str | None = None
    vendor: str | None = None
    arm_part: str | None = None
    flags: set[str] = set()
    sockets: set[str] = set()
    cores: set[tuple[str, str]] = set()
    processors = 0
    physical = "0"
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip().lower(), value.strip()
        if name == "processor":
            processors += 1
        elif name in ("model name", "cpu model", "hardware") and model is None and value:
            model = value
        elif name == "vendor_id" and vendor is None:
            vendor = value
        elif name == "cpu implementer" and vendor is None:
            vendor = "ARM" if value.lower() == "0x41" else value
        elif name == "cpu part" and arm_part is None:
            arm_part = value.lower()
        elif name in ("flags", "features") and not flags:
            flags = set(value.split())
        elif name == "physical id":
            physical = value
            sockets.add(value)
        elif name == "core id":
            cores.add((physical, value))
    if model is None and arm_part in _ARM_PARTS:
        model = _ARM_PARTS[arm_part]
    return CpuInfo(model, vendor, frozenset(flags), len(sockets) or 1, len(cores) or processors, processors)


def read_dmi(root: str | os.PathLike[str] = "/") -> str | None:
    """Hypervisor named by the DMI vendor and product files, or None."""
    folder = Path(root) / "sys" / "class" / "dmi" / "id"
    for name in _DMI_FILES:
        text = _read(folder / name)
        if not text:
            continue
        lowered = text.strip().lower()
        for needle, hypervisor in _DMI_HYPERVISORS:
            if needle in lowered:
                return hypervisor
    return None


#: SMBIOS chassis type codes (DMTF DSP0134, "System Enclosure or Chassis Types") -> class
_CHASSIS = {
    **dict.fromkeys((8, 9, 10, 11, 14, 30, 31, 32), "laptop"),
    **dict.fromkeys((3, 4, 5, 6, 7, 13, 15, 16, 34, 35, 36), "desktop"),
    **dict.fromkeys((17, 23, 25, 28, 29), "server"),
}
_INSTANCE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")


def read_chassis(root: str | os.PathLike[str] = "/") -> str | None:
    """laptop, desktop or server from /sys/class/dmi/id/chassis_type, or None."""
    text = _read(Path(root) / "sys" / "class" / "dmi" / "id" / "chassis_type")
    try:
        return _CHASSIS.get(int((text or "").strip()))
    except ValueError:
        return None


def read_instance_type(root: str | os.PathLike[str] = "/") -> str | None:
    """The cloud instance type named by the DMI product name ("m5.large" on AWS), or None."""
    text = (_read(Path(root) / "sys" / "class" / "dmi" / "id" / "product_name") or "").strip()
    return text if _INSTANCE.match(text) else None


def read_meminfo_gb(root: str | os.PathLike[str] = "/") -> float | None:
    """MemTotal from /proc/meminfo in GB (1e9 bytes), or None."""
    text = _read(Path(root) / "proc" / "meminfo")
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            try:
                return int(parts[1]) * 1024 / 1e9
            except (IndexError, ValueError):
                return None
    return None


def _detect_virt_command() -> str | None:
    import shutil
    import subprocess

    tool = shutil.which("systemd-detect-virt")
    if tool is None:
        return None
    try:
        done = subprocess.run([tool, "--vm"], capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    # prints the hypervisor's name, or "none" on bare metal
    return done.stdout.strip() or None


def detect_virtual(
    flags: frozenset[str], root: str | os.PathLike[str] = "/", *, allow_command: bool = True
) -> tuple[bool | None, str | None, str | None]:
    """(virtual, hypervisor, method) from the CPU flags, DMI files, then systemd-detect-virt."""
    dmi = read_dmi(root)
    if "hypervisor" in flags:
        return True, dmi, "cpu flag hypervisor" + (" and DMI vendor" if dmi else "")
    if dmi is not None:
        return True, dmi, "DMI vendor"
    if allow_command:
        answer = _detect_virt_command()
        if answer == "none":
            return False, None, "systemd-detect-virt"
        if answer:
            return True, answer, "systemd-detect-virt"
    if flags:
        return False, None, "no hypervisor flag"
    return None, None, None


def linux_spec(root: str | os.PathLike[str] = "/", *, allow_command: bool = True) -> MachineSpec:
    """The machine as Linux describes it under ``root``."""
    text = _read(Path(root) / "proc" / "cpuinfo") or ""
    info = parse_proc_cpuinfo(text)
    threads = info.threads or (os.cpu_count() or 1)
    virtual, hypervisor, method = detect_virtual(info.flags, root, allow_command=allow_command)
    return MachineSpec(
        cpu_model=info.model,
        vendor=info.vendor,
        sockets=info.sockets,
        cores=info.cores or threads,
        threads=threads,
        ram_gb=round(read_meminfo_gb(root) or 0.0, 3),
        virtual=virtual,
        hypervisor=hypervisor,
        virt_method=method,
        chassis=read_chassis(root),
        instance_type=read_instance_type(root) if virtual else None,
    )


def _sysctl(name: str) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def macos_spec() -> MachineSpec:
    """The machine as macOS's sysctl describes it."""
    threads = _int(_sysctl("hw.logicalcpu"), os.cpu_count() or 1)
    model = _sysctl("machdep.cpu.brand_string")
    hypervisor = _sysctl("kern.hv_vmm_present") == "1"
    return MachineSpec(
        cpu_model=model,
        vendor="Apple" if model and model.startswith("Apple") else _sysctl("machdep.cpu.vendor"),
        sockets=_int(_sysctl("hw.packages"), 1),
        cores=_int(_sysctl("hw.physicalcpu"), threads),
        threads=threads,
        ram_gb=round(_int(_sysctl("hw.memsize"), 0) / 1e9, 3),
        virtual=hypervisor,
        hypervisor="apple" if hypervisor else None,
        virt_method="sysctl kern.hv_vmm_present",
        chassis="laptop" if "book" in (_sysctl("hw.model") or "").casefold() else None,
    )


def generic_spec() -> MachineSpec:
    """The machine as the platform module describes it (Windows and the rest)."""
    threads = os.cpu_count() or 1
    ram_gb = 0.0
    try:
        import psutil

        ram_gb = psutil.virtual_memory().total / 1e9
    except Exception:  # psutil is a dependency, but a broken one must not break detection
        ram_gb = 0.0
    return MachineSpec(
        cpu_model=platform.processor() or None,
        vendor=None,
        sockets=1,
        cores=threads,
        threads=threads,
        ram_gb=round(ram_gb, 3),
        virtual=None,
        hypervisor=None,
        virt_method=None,
    )


@functools.cache
def this_machine() -> MachineSpec:
    """The spec of the machine this runs on, detected once per process."""
    system = platform.system()
    if system == "Linux":
        return linux_spec("/")
    if system == "Darwin":
        return macos_spec()
    return generic_spec()
