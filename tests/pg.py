"""A real PostgreSQL server for the tests, started in a temporary folder with initdb and pg_ctl.

The server listens on 127.0.0.1 on a free port and asks for a password (scram-sha-256), so a
wrong password can be tested. initdb refuses to run as root: as root, the server runs as the
``postgres`` user on a folder that user owns. Where PostgreSQL is not installed the tests skip,
unless PYTEST_CARBON_REQUIRE_SERVICES=1 (set by CI), where they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "carbon"
PASSWORD = "s3cret-" + uuid.uuid4().hex[:12]


def require_or_skip(reason: str) -> None:
    """Skip with ``reason``, or fail when CI demands the service (PYTEST_CARBON_REQUIRE_SERVICES=1)."""
    if os.environ.get("PYTEST_CARBON_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (PYTEST_CARBON_REQUIRE_SERVICES=1 requires it)", pytrace=False)
    pytest.skip(reason)


def find_bin(name: str) -> str | None:
    """A PostgreSQL server program from PATH or the Debian layout."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PgServer:
    """A running server: where it listens and how to log in."""

    host: str
    port: int
    user: str
    password: str
    folder: Path

    def url(self, database: str, password: bool = False) -> str:
        """A postgresql:// URL for ``database``; the password is in it only when asked."""
        auth = f"{self.user}:{self.password}" if password else self.user
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its name."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    if owner is None:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", owner, "--", *cmd]
    return ["su", owner, "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]


def start_server() -> Iterator[PgServer]:
    """Start a server for the test session and stop it at the end (a generator for a fixture)."""
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        require_or_skip("PostgreSQL is not installed (initdb and pg_ctl not found; apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_or_skip("psycopg 3 is not installed (pip install 'psycopg[binary]')")
    owner = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            require_or_skip("running as root and there is no postgres user to run the server as")
        owner = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="carbon-pg-"))
    data, sock = folder / "data", folder / "sock"
    sock.mkdir()
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if owner is not None:
        entry = pwd.getpwnam(owner)
        for path in (folder, sock, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = free_port()
    init = subprocess.run(
        _as_owner(
            [
                str(initdb),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            owner,
        ),
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}", pytrace=False)
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=60 -c fsync=off"
    start = subprocess.run(
        _as_owner([str(pg_ctl), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"], owner),
        capture_output=True,
        text=True,
    )
    if start.returncode != 0:
        log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {start.stderr.strip()} {log[-2000:]}", pytrace=False)
    try:
        yield PgServer("127.0.0.1", port, USER, PASSWORD, folder)
    finally:
        subprocess.run(
            _as_owner([str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"], owner),
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole test session."""
    yield from start_server()


@pytest.fixture
def pg_database(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the server; its URL (no password in it), with PGPASSWORD set."""
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    return pg_server.url(pg_server.create_database())
