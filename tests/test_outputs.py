"""Where files are written: checked before (``check_output_path``), written without destroying (``write_text``).

Device nodes are made with ``os.mknod`` inside ``tmp_path`` (a copy of /dev/null's and /dev/full's
numbers): the machine's own /dev is never touched.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from pytest_carbon import outputs
from pytest_carbon.outputs import OutputError, check_output_path, filesystem_type, write_text

NULL = os.makedev(1, 3)  # the numbers of /dev/null
FULL = os.makedev(1, 7)  # the numbers of /dev/full


def make_device(path: Path, numbers: int) -> Path:
    """A character device node at ``path``, or a skip where this user or filesystem cannot make one."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, numbers)
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")
    try:
        with open(path, "w"):
            pass
    except PermissionError:
        pytest.skip("the filesystem of tmp_path is mounted nodev")
    return path


def test_regular_file_is_replaced_atomically_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    inode = target.stat().st_ino
    write_text(target, ["new ", "text"])
    assert target.read_text() == "new text"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


def test_new_path_and_its_folders_are_made(tmp_path: Path) -> None:
    write_text(tmp_path / "a" / "b" / "r.json", "x")
    assert (tmp_path / "a" / "b" / "r.json").read_text() == "x"


def test_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text("stale")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    chain = tmp_path / "chain.json"
    chain.symlink_to(link.name)
    write_text(chain, "fresh")
    assert chain.is_symlink() and link.is_symlink()
    assert os.readlink(chain) == "link.json"
    assert target.read_text() == "fresh"


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "out" / "made.json")
    assert check_output_path(str(link)) == str(link)
    write_text(link, "made")
    assert link.is_symlink()
    assert (tmp_path / "out" / "made.json").read_text() == "made"


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OutputError, match="loop of symbolic links"):
        check_output_path(str(tmp_path / "a"))
    with pytest.raises(OSError):
        write_text(tmp_path / "a", "x")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_character_device_is_written_through_never_replaced(tmp_path: Path) -> None:
    node = make_device(tmp_path / "null", NULL)
    link = tmp_path / "null-link"
    link.symlink_to(node)
    assert check_output_path(str(node)) == str(node)
    write_text(node, "discarded")
    write_text(link, "discarded")
    after = os.stat(node)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == NULL
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "null-link"]


def test_full_device_fails_loudly_and_stays_a_device(tmp_path: Path) -> None:
    node = make_device(tmp_path / "full", FULL)
    with pytest.raises(OSError) as info:
        write_text(node, "x" * 10_000)
    assert info.value.strerror == os.strerror(28)  # ENOSPC: no space left on device
    assert stat.S_ISCHR(os.stat(node).st_mode) and os.stat(node).st_rdev == FULL


def test_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the write
    try:
        write_text(fifo, ["through ", "the pipe"])  # less than the pipe's buffer: it waits there
        received = os.read(fd, 65536)
        assert os.read(fd, 65536) == b""  # the writer has closed its end
    finally:
        os.close(fd)
    assert received == b"through the pipe"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_fifo_without_reader_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="no process reads this FIFO"):
        write_text(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_unix_socket_is_written_through(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
            received.append(b"".join(chunks))

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert check_output_path(str(path)) == str(path)
        write_text(path, "over the socket")
        thread.join(10)
    finally:
        server.close()
    assert received == [b"over the socket"]
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_dash_is_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_output_path(" - ") == "-"
    write_text("-", ["to ", "stdout\n"])
    assert capsys.readouterr().out == "to stdout\n"
    with pytest.raises(OutputError, match="standard output"):
        check_output_path("-", stdout=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a file path"),
        ("ftp://host/r.json", "is a URL, not a file path"),
        ("~no-such-user-xyz/r.json", "there is no user 'no-such-user-xyz'"),
        ("{tmp}/" + "a" * 256 + ".json", "is 261 bytes long; a file name holds at most 255 bytes"),
        ("{tmp}/sub/" + "é" * 128, "is 256 bytes long"),
    ],
)
def test_impossible_names_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(OutputError, match=message):
        check_output_path(text.format(tmp=tmp_path))


def test_relative_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert check_output_path("out/r.json") == "out/r.json"
    assert check_output_path("~/r.json") == str(tmp_path / "r.json")


def test_directory_block_device_and_path_under_a_file(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a directory; give a file path such as"):
        check_output_path(str(tmp_path))
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file is a file, not a folder, so .* cannot be created under it"):
        check_output_path(str(tmp_path / "file" / "sub" / "r.json"))
    try:
        os.mknod(tmp_path / "disk", 0o600 | stat.S_IFBLK, os.makedev(7, 200))
    except PermissionError:
        return
    with pytest.raises(OutputError, match="is a block device"):
        check_output_path(str(tmp_path / "disk"))
    with pytest.raises(OSError, match="block device"):
        write_text(tmp_path / "disk", "x")
    assert stat.S_ISBLK(os.stat(tmp_path / "disk").st_mode)


def test_filesystem_type_from_mountinfo(tmp_path: Path) -> None:
    """The type is read from the mount table (here a table written for the test), never by writing."""
    kernel = tmp_path / "kernel view"
    (kernel / "sub").mkdir(parents=True)
    table = tmp_path / "mountinfo"
    escaped = str(kernel).replace(" ", "\\040")
    table.write_text(
        "22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        f"40 22 0:5 / {escaped} rw,nosuid shared:9 - proc proc rw\n"
        "41 22 0:6 / /other rw - sysfs sysfs rw\n"
    )
    assert filesystem_type(kernel / "sub", str(table)) == "proc"
    assert filesystem_type(tmp_path, str(table)) == "ext4"
    assert filesystem_type(tmp_path, str(tmp_path / "absent")) is None


def test_kernel_filesystem_is_refused_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = tmp_path / "kernel"
    kernel.mkdir()
    table = tmp_path / "mountinfo"
    table.write_text(f"22 1 252:1 / / rw - ext4 /dev/vda rw\n40 22 0:5 / {kernel} rw - sysfs sysfs rw\n")
    monkeypatch.setattr(outputs, "MOUNTINFO", str(table))
    with pytest.raises(OutputError, match="is on a sysfs filesystem"):
        check_output_path(str(kernel / "x" / "r.json"))
    assert list(kernel.iterdir()) == []
    assert check_output_path(str(tmp_path / "r.json")) == str(tmp_path / "r.json")


def test_this_machines_mount_table_is_read() -> None:
    if not os.path.exists(outputs.MOUNTINFO):
        pytest.skip("no /proc/self/mountinfo on this system")
    assert filesystem_type("/") is not None


def _saved_report(tmp_path: Path) -> Path:
    import json

    from reportdata import make_report

    path = tmp_path / "r.json"
    path.write_text(json.dumps(make_report()), encoding="utf-8")
    return path


@pytest.mark.parametrize(("option", "marker"), [("--junit", "<testsuite"), ("--csv", "timestamp,project_name")])
def test_report_command_writes_dash_to_standard_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, marker: str
) -> None:
    from pytest_carbon.cli import main

    assert main(["report", str(_saved_report(tmp_path)), option, "-"]) == 0
    captured = capsys.readouterr()
    assert marker in captured.out
    assert "wrote" not in captured.err
    assert not (tmp_path / "-").exists()


def test_merge_command_writes_dash_to_standard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pytest_carbon.cli import main

    assert main(["merge", str(_saved_report(tmp_path)), "-o", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["schema_version"] == 1  # nothing else on standard output
    assert "-> standard output" in captured.err


def test_commands_refuse_impossible_outputs_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_carbon.cli import main

    report = str(_saved_report(tmp_path))
    (tmp_path / "blocker").write_text("x")
    assert main(["merge", report, "-o", "ftp://host/all.json"]) == 2
    assert "-o: ftp://host/all.json is a URL" in capsys.readouterr().err
    assert main(["report", report, "--csv", str(tmp_path / "blocker" / "c.csv")]) == 2
    assert "--csv:" in capsys.readouterr().err
    assert main(["report", report, "--junit", "~no-such-user-xyz/j.xml"]) == 2
    assert "there is no user" in capsys.readouterr().err
    assert main(["dashboard", "-o", "-", "--store", str(tmp_path / "h.sqlite")]) == 2
    assert "give a folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "r.json"]


def test_merge_into_a_device_keeps_the_device(tmp_path: Path) -> None:
    from pytest_carbon.cli import main

    node = make_device(tmp_path / "null", NULL)
    assert main(["merge", str(_saved_report(tmp_path)), "-o", str(node)]) == 0
    assert stat.S_ISCHR(os.stat(node).st_mode) and os.stat(node).st_rdev == NULL
