"""Where the plugin and the commands write their files, checked before and written without destroying.

``check_output_path`` tells at start-up whether a file can be written at a path (and says what to
write instead); ``write_text`` writes it:

* ``-``: standard output;
* a regular file or a new path: a temporary file in the same folder, renamed over it (a reader
  never sees half a file), keeping the mode of the file it replaces;
* a symbolic link: followed, and its target written the same way (the link stays a link);
* a character device, a FIFO or a socket: written through, never replaced;
* a block device, a folder: refused.

``append_lines`` adds to a log instead (the CSV of runs): the same rules, except that a regular file
(a link's target) is appended to in place, its header written once, never replaced or cut.

Nothing here writes to find out: the filesystem of a path (``/proc``, ``/sys`` and their kind
cannot hold a report) is read from ``/proc/self/mountinfo``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from pytest_carbon.errors import OutputError as OutputError

#: the name that means standard output, for every artefact option and command
STDOUT = "-"
#: where the mounted filesystems are listed (Linux); absent elsewhere, and then not checked
MOUNTINFO = "/proc/self/mountinfo"
#: kernel filesystems whose files are views of the kernel, not storage: a report cannot live there
PSEUDO_FILESYSTEMS = frozenset(
    (
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "sysfs",
        "tracefs",
    )
)
#: longest file name most filesystems take, where pathconf cannot tell
NAME_MAX = 255


def _unescape_mount(text: str) -> str:
    """A mount point as mountinfo writes it (space, tab, newline and backslash as octal escapes)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text


def filesystem_type(path: str | os.PathLike[str], mountinfo: str | None = None) -> str | None:
    """The type of the filesystem that holds ``path`` (an existing path), or None when it cannot be told."""
    try:
        with open(mountinfo or MOUNTINFO, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for line in lines:
        head, sep, tail = line.partition(" - ")
        fields = head.split()
        if not sep or len(fields) < 5 or not tail.split():
            continue
        point = _unescape_mount(fields[4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        # the longest mount point that holds the path wins; among equals the last one mounted
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), tail.split()[0])
    return best[1] if best else None


def _name_max(folder: str) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return NAME_MAX


def _stat(path: str) -> os.stat_result | None:
    """``os.stat`` (links followed); None when nothing is there; OutputError when it cannot be looked at."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None  # a parent is a file: found by the walk up
    except PermissionError:
        raise OutputError(
            f"{path} cannot be reached: a folder on the way cannot be entered (permission denied); "
            "choose a location this user can enter"
        ) from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OutputError(f"{path} is a loop of symbolic links; point it at a file") from None
        if err.errno == errno.ENAMETOOLONG:
            raise OutputError(f"the path {path[:80]}... is too long; choose a shorter path") from None
        raise OutputError(f"{path} cannot be looked at: {err.strerror or err}") from None


def _describe(mode: int) -> str | None:
    """What a non-regular file is, or None for a regular one."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISREG(mode):
        return None
    return "a special file"


def check_output_path(text: str, *, example: str = "carbon.json", stdout: bool = True) -> str:
    """The path to write, from ``text``; OutputError when no file can be written there.

    Checks the name (empty, a URL, ``~user``, a name longer than the filesystem takes), what is
    at the path (a directory or a block device is refused; a character device, FIFO or socket is
    written through), and the nearest existing folder: a folder (not a file), one this user can
    enter and write, and not on a kernel filesystem such as /proc or /sys.
    """
    raw = text.strip()
    if not raw:
        raise OutputError(f"expected a file path, for example {example}" + (" (or - for standard output)" * stdout))
    if raw == STDOUT:
        if stdout:
            return STDOUT
        raise OutputError(f"- (standard output) cannot be used here; give a path, for example {example}")
    if "://" in raw:
        raise OutputError(f"{raw} is a URL, not a file path; write a path, for example {example}")
    if "\x00" in raw:
        raise OutputError(f"the path {raw!r} holds a NUL character; write a path, for example {example}")
    path = os.path.expanduser(raw)
    if path.startswith("~"):
        user = path[1:].split("/", 1)[0]
        raise OutputError(
            f"{raw}: there is no user {user!r} for ~{user}; write the folder in full, for example "
            f"/home/{user}/{example}"
        )
    for name in path.split("/"):
        size = len(os.fsencode(name))
        if size > NAME_MAX:
            raise OutputError(
                f"the name {name[:40]}... is {size} bytes long; a file name holds at most {NAME_MAX} bytes: "
                "choose a shorter name"
            )
    target = _stat(path)
    if target is not None:
        kind = _describe(target.st_mode)
        if kind == "a directory":
            raise OutputError(f"{raw} is a directory; give a file path such as {os.path.join(raw, example)}")
        if kind == "a block device":
            raise OutputError(f"{raw} is a block device; a report is never written over a disk: give a file path")
        if kind is not None:
            return path  # a character device, FIFO or socket: written through, as asked
        path_to_check = os.path.realpath(path)  # a regular file, or a link to one: its target is rewritten
    else:
        path_to_check = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    # the nearest existing folder of the file that will be written (the link's target for a link)
    folder = os.path.dirname(path_to_check)
    missing = [os.path.basename(path_to_check)]
    while True:
        found = _stat(folder)
        if found is not None:
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            raise OutputError(f"no folder of {raw} exists; write a path in an existing folder")
        missing.append(os.path.basename(folder))
        folder = parent
    if not stat.S_ISDIR(found.st_mode):
        raise OutputError(f"{folder} is a file, not a folder, so {raw} cannot be created under it; choose another path")
    limit = _name_max(folder)
    for name in missing:
        size = len(os.fsencode(name))
        if size > limit:
            raise OutputError(
                f"the name {name[:40]}... is {size} bytes long; a file name holds at most {limit} bytes "
                f"in {folder}: choose a shorter name"
            )
    fs_type = filesystem_type(folder)
    if fs_type in PSEUDO_FILESYSTEMS:
        raise OutputError(
            f"{folder} is on a {fs_type} filesystem, which shows the kernel's state and holds no file a "
            f"report can be written to; write to a real folder, for example ./{example}"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"the directory {folder} cannot be written by this user; choose a writable location")
    if target is not None and not os.access(path_to_check, os.W_OK):
        raise OutputError(f"{raw} is read-only for this user; make it writable or choose another path")
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pieces(text: str | Iterable[str]) -> Iterable[str]:
    return [text] if isinstance(text, str) else text


def _write_through(path: str, mode: int, text: str | Iterable[str]) -> None:
    """Write into a character device, a FIFO or a socket that is at ``path``, which stays what it is."""
    data = "".join(_pieces(text)).encode("utf-8")
    if stat.S_ISSOCK(mode):
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10.0)
            sock.connect(path)
            sock.sendall(data)
        return
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0)
    if stat.S_ISFIFO(mode):
        flags |= os.O_NONBLOCK  # a FIFO nobody reads: an error now (ENXIO), not a hang
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ENXIO and stat.S_ISFIFO(mode):
            raise OSError(err.errno, "no process reads this FIFO", path) from None
        raise
    try:
        if stat.S_ISFIFO(mode):
            os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike[str], text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces) to ``path``, never replacing what is not a regular file (see module doc)."""
    name = os.fspath(path)
    if name == STDOUT:
        out = sys.stdout
        out.writelines(_pieces(text))
        out.flush()
        return
    try:
        found: os.stat_result | None = os.stat(name)
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISREG(found.st_mode):
        if stat.S_ISDIR(found.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", name)
        if stat.S_ISBLK(found.st_mode):
            raise OSError(errno.EPERM, "is a block device; not written", name)
        _write_through(name, found.st_mode, text)
        return
    target = Path(os.path.realpath(name))  # a link is followed: its target is the file written
    if target.is_symlink():
        raise OSError(errno.ELOOP, "a loop of symbolic links", name)
    target.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # here: the start-up checks of an artefact option need none of it

    mode = stat.S_IMODE(found.st_mode) if found is not None else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:200]}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(_pieces(text))  # a full disk fails here or at close, before the old file is replaced
        os.chmod(tmp, mode)  # mkstemp makes the file private; artefacts are not
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _header_of(fd: int, size: int) -> bytes:
    """The first line of an open file (without its line end), read without moving the file offset."""
    line = b""
    offset = 0
    while offset < size:
        chunk = os.pread(fd, 4096, offset)
        if not chunk:
            break
        end = chunk.find(b"\n")
        if end >= 0:
            line += chunk[:end]
            break
        line += chunk
        offset += len(chunk)
        if len(line) > 1 << 20:  # no header is a megabyte long: this is not a CSV of ours
            break
    return line.rstrip(b"\r")


def append_lines(path: str | os.PathLike[str], header: str, lines: str) -> None:
    """Add ``lines`` to the log at ``path``, with ``header`` first where the log is new or empty.

    * ``-``, a character device, a FIFO, a socket: ``header`` and ``lines`` written through, as by
      ``write_text`` (a reader of a stream starts afresh each time);
    * a block device, a folder: refused;
    * a regular file, or a symbolic link to one (followed; the link stays): opened for appending with
      ``O_NOFOLLOW`` on the link's target, so that a link put there after the check is not followed,
      and locked (``flock``) while its first line is read and the lines added, so that two runs
      appending at once neither interleave their lines nor both write the header. A file whose first
      line is not ``header`` holds something else: it is left as it is (``OSError``). A last line
      without its line end gets one first. A write that fails (a full disk) is undone: the file is
      cut back to the size it had, never shorter.
    """
    name = os.fspath(path)
    if name == STDOUT:
        write_text(name, header + lines)
        return
    try:
        found: os.stat_result | None = os.stat(name)
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISREG(found.st_mode):
        write_text(name, header + lines)  # a device, FIFO or socket written through; a folder refused
        return
    target = Path(os.path.realpath(name))
    if target.is_symlink():
        raise OSError(errno.ELOOP, "a loop of symbolic links", name)
    target.parent.mkdir(parents=True, exist_ok=True)
    # read and write: the header is read through the descriptor that holds the lock
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(target, flags, 0o666)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # swapped for something else after the check
            raise OSError(errno.EPERM, "is not a regular file; not appended to", name)
        try:
            import fcntl
        except ImportError:  # not on Windows: appends there are not locked
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        data = lines.encode("utf-8")
        if size == 0:
            data = header.encode("utf-8") + data
        else:
            first = _header_of(fd, size)
            expected = header.encode("utf-8").rstrip(b"\r\n")
            if first.lstrip(b"\xef\xbb\xbf") != expected:
                raise OSError(
                    errno.EEXIST,
                    "holds other columns than this CSV's; left as it is: give another path or move it away",
                    name,
                )
            if os.pread(fd, 1, size - 1) != b"\n":
                data = b"\r\n" + data  # end the last line first
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)
