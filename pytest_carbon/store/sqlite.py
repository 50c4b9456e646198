"""The history in a SQLite file: the default, under the project's ``.carbon/`` folder."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import stat
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from pytest_carbon.store import schema
from pytest_carbon.store.base import (
    NoHistory,
    Store,
    StoreError,
    migration_steps,
    newer_schema,
    parse_schema_version,
)

if TYPE_CHECKING:
    import sqlite3

#: seconds a writer waits for another writer's lock before it retries
BUSY_TIMEOUT_S = 10.0
#: whole-transaction attempts when the file stays locked
ATTEMPTS = 6


def _is_locked(err: Exception) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


#: the first bytes of every SQLite 3 database file
SQLITE_HEADER = b"SQLite format 3\x00"
#: the tables of a pytest-carbon history
OUR_TABLES = frozenset(("meta", "runs", "tests"))


class SQLiteStore(Store):
    """A history in one SQLite file; several processes may write at once (WAL, busy timeout, retries).

    An existing file is looked at read-only first and changed only when it is a pytest-carbon
    history of a version this release knows (or an SQLite database with no table at all): an
    empty file, another application's database, a history with an unreadable or newer version
    is refused with its bytes untouched. ``read_only`` (the reading commands) never creates,
    migrates or writes the file, and works on a file this user cannot write.
    """

    param = "?"
    conn: sqlite3.Connection

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        import sqlite3

        self.path = path
        self.where = str(path)
        self.read_only = read_only
        self._sqlite = sqlite3
        exists = self._exists()
        if read_only:
            if not exists:
                raise NoHistory(
                    f"there is no history at {path} yet (pytest --carbon or pytest-carbon store push make it)"
                )
            self._inspect()
            self.conn = self._connect_read_only()
            return
        if not exists:
            self._create()
        self._inspect()
        try:
            self.conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise self._fail(err, "opening") from None
        try:
            self._retry(self._prepare)
        except StoreError:
            self.conn.close()
            raise

    def _create(self) -> None:
        """Make a new, empty history at ``path``, all at once: made aside, then linked into place.

        A process that finds the file finds a whole history, never one another process is still
        making; where two make it at once, the first link wins and the other's copy is dropped.
        """
        sqlite3 = self._sqlite
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.parent.name == ".carbon" and not (path.parent / ".gitignore").exists():
                (path.parent / ".gitignore").write_text("*\n", encoding="utf-8")
        except OSError as err:
            raise StoreError(
                f"cannot create the folder of the history {path}: {err.strerror or err}; "
                "make it writable or choose another place with --carbon-store=PATH"
            ) from None
        aside = path.with_name(f".{path.name[:200]}.{os.getpid()}.{random.getrandbits(32):08x}.new")
        try:
            self.conn = sqlite3.connect(str(aside), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                self._prepare()
            finally:
                self.conn.close()
            try:
                os.link(aside, path)
            except FileExistsError:
                pass  # another process made it first: that one is used
            except OSError as err:
                if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                # no hard links on this filesystem: a rename, which cannot tell whether another won
                if not path.exists():
                    os.replace(aside, path)
        except OSError as err:
            raise StoreError(
                f"cannot create the history {path}: {err.strerror or err}; make its folder writable or choose "
                "another place with --carbon-store=PATH"
            ) from None
        except sqlite3.Error as err:
            raise self._fail(err, "creating") from None
        finally:
            for leftover in (aside, aside.with_name(aside.name + "-wal"), aside.with_name(aside.name + "-shm")):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _exists(self) -> bool:
        try:
            found = self.path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as err:
            raise StoreError(f"cannot reach the history {self.path}: {err.strerror or err}") from None
        if not stat.S_ISREG(found.st_mode):
            raise StoreError(f"the history {self.path} is not a regular file; choose a file with --carbon-store=PATH")
        return True

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that cannot write, and leaves no file beside the history.

        Where no write-ahead log is beside the file, the file holds the whole history and is read
        as immutable (a read-only connection would otherwise make the -wal and -shm files); where
        one is, another process uses the history and it is read with mode=ro, which sees that
        process's writes. Immutable again where even mode=ro cannot open it (a folder this user
        cannot write, with no -shm file).
        """
        db = self._sqlite
        uri = "file:" + urllib.parse.quote("/" + str(self.path.absolute()).lstrip("/"))  # no "//": an authority
        in_use = any(os.path.lexists(f"{self.path}{end}") for end in ("-wal", "-shm"))
        queries = ("?mode=ro", "?mode=ro&immutable=1") if in_use else ("?mode=ro&immutable=1",)
        last: Exception | None = None
        for query in queries:
            try:
                conn = db.connect(
                    uri + query, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return cast("sqlite3.Connection", conn)
            except db.Error as err:
                last = err
                if "unable to open" not in str(err) and "readonly" not in str(err):
                    break
        assert last is not None
        raise self._fail(last, "opening") from None

    def _inspect(self) -> int:
        """The schema version of the existing file, read without changing it; StoreError unless it is ours.

        0 for an SQLite database with no table (nothing to lose: it becomes a history).
        """
        path = self.path
        try:
            with open(path, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as err:
            raise StoreError(f"cannot read the history {path}: {err.strerror or err}") from None
        if not head:
            raise StoreError(
                f"the history {path} is an empty file, not a pytest-carbon history: it was left as it is; "
                f"remove it (rm {path}) and the next run starts a new history, or choose another with "
                "--carbon-store=PATH"
            )
        if head != SQLITE_HEADER:
            self._raise_not_ours("not a SQLite database or is damaged (no SQLite header)")
        conn = self._connect_read_only()
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                return 0
            if not OUR_TABLES.issubset(tables):
                names = ", ".join(sorted(tables)[:8])
                raise StoreError(
                    f"the history {path} is a SQLite database of another application (tables: {names}), not a "
                    "pytest-carbon history: it was left as it is; choose another history with --carbon-store=PATH"
                )
            rows = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        except self._sqlite.Error as err:
            raise self._fail(err, "reading") from None
        finally:
            conn.close()
        if not rows:
            raise StoreError(
                f"the history {path} has a meta table without schema_version, which pytest-carbon always writes: "
                "it was left as it is; move it away or choose another history with --carbon-store=PATH"
            )
        return parse_schema_version(self.where, rows[0][0])

    def _raise_not_ours(self, why: str) -> NoReturn:
        raise StoreError(
            f"the history {self.path} is {why}: move it away (mv {self.path} {self.path}.bad) and the next run "
            "starts a new history, or choose another with --carbon-store=PATH"
        )

    def _prepare(self) -> None:
        sqlite3 = self._sqlite
        try:
            found = self._version()  # looked at again: another process may have written it since
            if found > schema.SCHEMA_VERSION:
                raise newer_schema(self.where, found)
            mode = self.conn.execute("PRAGMA journal_mode").fetchone()
            if mode and str(mode[0]).lower() != "wal":
                self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.Error as err:
            if _is_locked(err):
                raise
            raise self._fail(err, "opening") from None

    def _migrate(self) -> None:
        found = self._version()
        if found == schema.SCHEMA_VERSION:
            return
        if found > schema.SCHEMA_VERSION:
            raise newer_schema(self.where, found)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            found = self._version()  # another process may have migrated while this one waited
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for version, statements in migration_steps(found, "REAL"):
                for statement in statements:
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(version),),
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already (it does on a full disk)."""
        if self.conn.in_transaction:
            with contextlib.suppress(self._sqlite.Error):
                self.conn.execute("ROLLBACK")

    def _version(self) -> int:
        tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return 0
        if not OUR_TABLES.issubset(tables):
            raise StoreError(
                f"the history {self.path} is a SQLite database of another application, not a pytest-carbon "
                "history: it was left as it is; choose another history with --carbon-store=PATH"
            )
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise StoreError(f"the history {self.path} has a meta table without schema_version: it was left as it is")
        return parse_schema_version(self.where, row[0])

    def _retry(self, action: Any) -> Any:
        """Run ``action``; retry the whole of it while another writer holds the file."""
        sqlite3 = self._sqlite
        for attempt in range(ATTEMPTS):
            try:
                return action()
            except sqlite3.OperationalError as err:
                if not _is_locked(err) or attempt == ATTEMPTS - 1:
                    raise self._fail(err, "writing") from None
                time.sleep(0.05 * (2**attempt) * (1 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        sqlite3 = self._sqlite
        if self.read_only:
            raise StoreError(f"the history {self.path} was opened to be read, not written")
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                self._rollback()  # the cause is what is raised, never a failed rollback
                raise
        except sqlite3.Error as err:
            if _is_locked(err):
                raise
            raise self._fail(err, "writing") from None

    def record(
        self,
        report: dict[str, Any],
        project: str | None = None,
        organisation: str | None = None,
        *,
        built_here: bool = False,
    ) -> bool:
        """Store one run (see ``Store.record``), retrying while another process holds the file."""
        stored: bool = self._retry(lambda: Store.record(self, report, project, organisation, built_here=built_here))
        return stored

    def _insert_tests(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in schema.TEST_COLUMNS)
        cursor.executemany(f"INSERT INTO tests ({', '.join(schema.TEST_COLUMNS)}) VALUES ({marks})", rows)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        sqlite3 = self._sqlite
        try:
            return self.conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as err:
            raise self._fail(err, "reading") from None

    def _fail(self, err: Exception, doing: str) -> StoreError:
        text = " ".join(str(err).split())
        if "disk is full" in text or "no space" in text.lower():
            return StoreError(
                f"{doing} the history {self.path} failed: the disk is full ({text}); nothing of this run was "
                "written to it: free some space"
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreError(
                f"the history {self.path} is not a SQLite database or is damaged ({text}): move it away "
                f"(mv {self.path} {self.path}.bad) and the next run starts a new history, "
                "or choose another with --carbon-store=PATH"
            )
        if _is_locked(err):
            return StoreError(
                f"the history {self.path} stayed locked by another process ({text}) for "
                f"{ATTEMPTS} attempts of {BUSY_TIMEOUT_S:g} s"
            )
        if "readonly" in text or "unable to open" in text:
            return StoreError(
                f"cannot write the history {self.path} ({text}): make it writable or choose another "
                "place with --carbon-store=PATH"
            )
        return StoreError(f"{doing} the history {self.path} failed: {text}")

    def close(self) -> None:
        """Close the file."""
        self.conn.close()
