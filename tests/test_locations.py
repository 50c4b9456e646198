"""Every output location is checked before the first test, from every source, as root and as a normal user."""

from __future__ import annotations

import os

import pytest
from carbon_helpers import FIXED_PROBE_CONFTEST
from faults import mounted, run_as_nobody, shared_folder

ARTEFACTS = ("carbon_json", "carbon_junit", "carbon_markdown", "carbon_csv", "carbon_csv_tests", "carbon_html")

#: value (``{here}`` is the suite's folder) -> what the message says
BAD_PATHS = {
    "url": ("ftp://host/r.out", "is a URL, not a file path"),
    "no such user": ("~no-such-user-xyz/r.out", "there is no user 'no-such-user-xyz'"),
    "long name": ("{here}/" + "n" * 300 + ".out", "is 304 bytes long; a file name holds at most 255 bytes"),
    "under a file": ("{here}/blocker/sub/r.out", "is a file, not a folder, so"),
    "a directory": ("{here}", "is a directory; give a file path"),
}


@pytest.fixture
def suite(carbon_pytester: pytest.Pytester) -> pytest.Pytester:
    carbon_pytester.makepyfile(test_suite="def test_ok():\n    pass\n")
    (carbon_pytester.path / "blocker").write_text("a file")
    return carbon_pytester


def refused(
    suite: pytest.Pytester, name: str, value: str, source: str, monkeypatch: pytest.MonkeyPatch, shown: str = ""
) -> str:
    """Run with option ``name`` = ``value`` from ``source``; return the usage error's text.

    ``shown``: the value as the message shows it (a URL without its password), if not ``value``.
    """
    args = ["--carbon", "-p", "no:cacheprovider"]
    flag, env = "--" + name.replace("_", "-"), "PYTEST_" + name.upper()
    if source == "command line":
        args.append(f"{flag}={value}")
    elif source == "ini":
        suite.makeini(f"[pytest]\n{name} = {value}\n")
    else:
        monkeypatch.setenv(env, value)
    result = suite.runpytest(*args)
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "INTERNALERROR" not in text and "Traceback" not in text
    assert "test_ok" not in text and "passed" not in text  # refused before the first test
    shown = shown or value
    named = {"command line": f"{flag}={shown}", "ini": f"{name} = {shown} (ini file)", "environment": f"{env}={shown}"}
    assert named[source] in text, text
    return text


#: every option and case from the command line; from the ini and the environment every case of two
#: options and one case of the others (they share the one check)
ARTEFACT_CASES = [
    (name, case, source)
    for name in ARTEFACTS
    for case in BAD_PATHS
    for source in ("command line", "ini", "environment")
    if source == "command line" or name in ("carbon_json", "carbon_html") or case == "url"
]


@pytest.mark.parametrize(("name", "case", "source"), ARTEFACT_CASES)
def test_impossible_artefact_paths_are_usage_errors(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str, case: str, source: str
) -> None:
    value, message = BAD_PATHS[case]
    text = refused(suite, name, value.format(here=suite.path), source, monkeypatch)
    assert message in text


BAD_STORES = {
    "ftp": ("ftp://host/h.sqlite", "unknown history URL scheme"),
    "mysql": ("mysql://user:pw12345@host/db", "unknown history URL scheme"),
    "empty sqlite url": ("sqlite://", "write a SQLite history as sqlite:///path"),
    "under a file": ("blocker/h.sqlite", "is a file, not a folder, so"),
    "long name": ("n" * 300 + ".sqlite", "is 307 bytes long"),
    "no such user": ("~no-such-user-xyz/h.sqlite", "there is no user 'no-such-user-xyz'"),
}


@pytest.mark.parametrize("source", ["command line", "ini", "environment"])
@pytest.mark.parametrize("case", list(BAD_STORES))
def test_impossible_history_locations_are_usage_errors(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, case: str, source: str
) -> None:
    value, message = BAD_STORES[case]
    text = refused(suite, "carbon_store", value, source, monkeypatch, shown=value.replace(":pw12345@", ":***@"))
    assert message in text
    assert "or off for no history" in text
    assert "pw12345" not in text
    assert not (suite.path / ".carbon").exists()


@pytest.mark.parametrize("fstype", ["proc", "sysfs"])
def test_kernel_filesystems_are_refused_without_a_write(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fstype: str
) -> None:
    """A real proc or sysfs mounted inside the test's folder (never the machine's own /proc or /sys)."""
    with mounted(suite.path / "kernel", fstype) as kernel:
        for name in ("carbon_json", "carbon_csv", "carbon_store"):
            text = refused(suite, name, f"{kernel}/x/r.out", "command line", monkeypatch)
            assert f"is on a {fstype} filesystem" in text
        assert not os.path.lexists(kernel / "x")  # (proc's own list of entries changes with the processes)


def test_good_locations_still_run(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "--carbon", "--carbon-json=new/dir/r.json", f"--carbon-store=sqlite://{suite.path}/hist/h.sqlite"
    )
    assert result.ret == 0
    assert (suite.path / "new" / "dir" / "r.json").is_file()
    assert (suite.path / "hist" / "h.sqlite").is_file()


def test_unreachable_locations_are_refused_for_a_normal_user() -> None:
    """Root may enter and write any folder; a normal user may not, and is told before the first test."""
    with shared_folder() as folder:
        (folder / "conftest.py").write_text(FIXED_PROBE_CONFTEST)
        (folder / "test_suite.py").write_text("def test_ok():\n    pass\n")
        locked = folder / "locked"
        locked.mkdir(mode=0o700)  # root's, and closed to others
        readonly = folder / "readonly"
        readonly.mkdir(mode=0o755)  # root's: others may enter, not write
        cases = [
            ("--carbon-json", f"{locked}/sub/r.json", "cannot be reached: a folder on the way cannot be entered"),
            ("--carbon-junit", f"{locked}/j.xml", "cannot be reached"),
            ("--carbon-csv", f"{readonly}/c.csv", "cannot be written by this user"),
            ("--carbon-store", f"{readonly}/h.sqlite", "cannot be written by this user"),
            ("--carbon-store", f"{locked}/h.sqlite", "cannot be reached"),
        ]
        for flag, value, message in cases:
            args = ["-m", "pytest", "--carbon", "-p", "no:cacheprovider", "--carbon-store=off", f"{flag}={value}"]
            done = run_as_nobody(args, folder)
            text = done.stdout + done.stderr
            assert done.returncode == pytest.ExitCode.USAGE_ERROR, text
            assert f"{flag}={value}" in text and message in text, text
            assert "INTERNALERROR" not in text and "Traceback" not in text
        assert sorted(p.name for p in readonly.iterdir()) == []
        # the same run with a place this user can write passes
        args = ["-m", "pytest", "test_suite.py", "--carbon", "-p", "no:cacheprovider", "--carbon-store=off"]
        done = run_as_nobody(args, folder)
        assert done.returncode == 0, done.stdout + done.stderr


def test_history_name_leaves_room_for_its_write_ahead_log(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite writes NAME-wal beside NAME: the history's name must be 4 bytes shorter than the limit."""
    longest = "h" * (255 - len(".sqlite-wal")) + ".sqlite"
    result = suite.runpytest("--carbon", f"--carbon-store={longest}")
    assert result.ret == 0
    assert (suite.path / longest).is_file()
    text = "".join(refused(suite, "carbon_store", "x" + longest, "command line", monkeypatch).split())
    assert "SQLitewritesafilenamedlikeitwith-waladded" in text
