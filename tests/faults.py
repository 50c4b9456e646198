"""Faults for the plugin's outputs, made for real: small full filesystems, kernel mounts, another user.

``mount`` needs root (CI runs as root): where it fails the test skips with the reason, or fails
when PYTEST_CARBON_REQUIRE_SERVICES=1 (set by CI). Every mount is made inside the test's own
folder and unmounted at the end.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pg import require_or_skip

#: the unprivileged user the root-only cases are run as
NOBODY = "nobody"


@contextmanager
def mounted(folder: Path, fstype: str, options: str = "") -> Iterator[Path]:
    """``folder`` with a filesystem of ``fstype`` mounted on it for the block's time."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = ["mount", "-t", fstype, *(["-o", options] if options else []), fstype, str(folder)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        require_or_skip(f"cannot mount a {fstype} filesystem: {err}")
    if done.returncode != 0:
        require_or_skip(f"cannot mount a {fstype} filesystem here ({done.stderr.strip() or done.returncode})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30, check=False)


def fill(folder: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem of ``folder`` up to ``leave_bytes`` free; return the filler file."""
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        block = b"\0" * 4096
        try:
            while True:
                stats = os.statvfs(folder)
                if stats.f_bavail * stats.f_frsize <= leave_bytes:
                    break
                fh.write(block)
                fh.flush()
        except OSError:
            pass
    return filler


def unprivileged() -> list[str]:
    """The command prefix that runs a program as an unprivileged user, or a skip where there is none."""
    if os.geteuid() != 0:
        return []  # already a normal user
    try:
        entry = pwd.getpwnam(NOBODY)
    except KeyError:
        require_or_skip(f"no {NOBODY} user to run the unprivileged cases as")
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", NOBODY, "--"]
    require_or_skip("neither setpriv nor runuser is installed")
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A folder every user can enter (tmp_path is private to root), removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="carbon-shared-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_as_nobody(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` as the unprivileged user in ``cwd``, with a clean carbon environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_CARBON", "PYTEST_ADDOPTS"))}
    env["HOME"] = str(cwd)
    env.pop("PYTEST_XDIST_WORKER", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    return subprocess.run(
        [*unprivileged(), sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
