"""The history in a SQLite file: the default, under the project's ``.carbon/`` folder."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_carbon.store import schema
from pytest_carbon.store.base import Store, StoreError, migration_steps, newer_schema

if TYPE_CHECKING:
    import sqlite3

#: seconds a writer waits for another writer's lock before it retries
BUSY_TIMEOUT_S = 10.0
#: whole-transaction attempts when the file stays locked
ATTEMPTS = 6


def _is_locked(err: Exception) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


class SQLiteStore(Store):
    """A history in one SQLite file; several processes may write at once (WAL, busy timeout, retries)."""

    param = "?"

    def __init__(self, path: Path) -> None:
        import sqlite3

        self.path = path
        self.where = str(path)
        self._sqlite = sqlite3
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.parent.name == ".carbon" and not (path.parent / ".gitignore").exists():
                (path.parent / ".gitignore").write_text("*\n", encoding="utf-8")
        except OSError as err:
            raise StoreError(
                f"cannot create the folder of the history {path}: {err.strerror or err}; "
                "make it writable or choose another place with --carbon-store=PATH"
            ) from None
        try:
            self.conn: sqlite3.Connection = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise self._fail(err, "opening") from None
        try:
            self._retry(self._prepare)
        except StoreError:
            self.conn.close()
            raise

    def _prepare(self) -> None:
        sqlite3 = self._sqlite
        try:
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
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            found = self._version()  # another process may have migrated while this one waited
            if found > schema.SCHEMA_VERSION:
                raise newer_schema(self.where, found)
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
            self.conn.execute("ROLLBACK")
            raise

    def _version(self) -> int:
        has_meta = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if not has_meta:
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

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
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
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
    ) -> None:
        """Store one run (see ``Store.record``), retrying while another process holds the file."""
        self._retry(lambda: Store.record(self, report, project, organisation, built_here=built_here))

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
