"""The history in PostgreSQL, for an organisation whose CI jobs all write to one database.

psycopg 3 is imported only here (the ``postgresql`` extra). The password comes from the URL or,
better, from ``PGPASSWORD``; it is scrubbed from every message this module produces.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pytest_carbon.store import schema
from pytest_carbon.store.base import NoHistory, Store, StoreError, migration_steps, parse_schema_version

#: key of the advisory lock that serialises migrations among concurrent writers
MIGRATION_LOCK = 0x70C4_2B0E
CONNECT_TIMEOUT_S = 10

_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<tail>@)", re.I)
_PASSWORD_PARAM = re.compile(r"(?P<head>\bpassword=)(?P<password>[^&\s]*)", re.I)


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with the passwords in URLs, in ``password=`` parameters and the given secrets replaced by ***.

    A secret is replaced where it stands as a whole (not inside a longer run of letters and
    digits): a short password such as "e" must not turn "connection" into "conn***ction".
    """
    text = _PASSWORD_IN_URL.sub(lambda m: m["head"] + "***" + m["tail"], text)
    text = _PASSWORD_PARAM.sub(lambda m: m["head"] + "***", text)
    for secret in secrets:
        if secret:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
    return text


def _url_password(url: str) -> str | None:
    match = _PASSWORD_IN_URL.search(url)
    if match and match["password"]:
        return match["password"]
    match = _PASSWORD_PARAM.search(url)
    return match["password"] if match else None


class PostgresStore(Store):
    """A history in a PostgreSQL database; concurrent writers are safe (one transaction per run)."""

    param = "%s"

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.where = scrub(url)
        self.read_only = read_only
        self._secrets = (_url_password(url), os.environ.get("PGPASSWORD"))
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "a postgresql:// history needs psycopg 3: pip install 'pytest-carbon[postgresql]'"
            ) from None
        self._psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name="pytest-carbon")
        except Exception as err:
            if isinstance(err, psycopg.OperationalError) or type(err).__name__ == "OperationalError":
                raise self._fail(err, "connecting to") from None
            # a malformed URL raises ProgrammingError or ValueError
            raise StoreError(
                f"cannot use the history URL {self.where}: {scrub(str(err), *self._secrets)}; "
                "write it as postgresql://USER@HOST:PORT/DATABASE with the password in PGPASSWORD"
            ) from None
        try:
            if read_only:
                self._check_readable()
            else:
                self._migrate()
        except psycopg.Error as err:
            self.conn.close()
            raise self._fail(err, "preparing") from None
        except StoreError:
            self.conn.close()
            raise

    def _check_readable(self) -> None:
        """For the reading commands: a history of a version this release reads, looked at without a write."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT to_regclass('meta') IS NOT NULL, to_regclass('runs') IS NOT NULL")
            has_meta, has_runs = cur.fetchone() or (False, False)
            if not (has_meta and has_runs):
                self.conn.rollback()
                raise NoHistory(f"there is no pytest-carbon history in {self.where} yet")
            cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            row = cur.fetchone()
        self.conn.rollback()
        parse_schema_version(self.where, row[0] if row else "")

    def _migrate(self) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            cur.execute("SELECT to_regclass('meta') IS NOT NULL, to_regclass('runs') IS NOT NULL")
            has_meta, has_runs = cur.fetchone() or (False, False)
            if has_runs and not has_meta:
                raise StoreError(
                    f"the database {self.where} has a runs table that pytest-carbon did not make: it was left as "
                    "it is; give pytest-carbon a database of its own"
                )
            cur.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            row = cur.fetchone()
            found = parse_schema_version(self.where, row[0]) if row else 0
            for version, statements in migration_steps(found, "DOUBLE PRECISION"):
                for statement in statements:
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(version),),
                )
        self.conn.commit()

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        if self.read_only:
            raise StoreError(f"the history at {self.where} was opened to be read, not written")
        psycopg = self._psycopg
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                yield cur
            self.conn.commit()
        except psycopg.Error as err:
            raise self._fail(err, "writing to") from None

    def _insert_tests(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        # COPY is several times faster than INSERTs for thousands of rows
        with cursor.copy(f"COPY tests ({', '.join(schema.TEST_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        psycopg = self._psycopg
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                rows: list[tuple[Any, ...]] = cur.fetchall()
            self.conn.commit()
            return rows
        except psycopg.Error as err:
            self.conn.rollback()
            raise self._fail(err, "reading") from None

    def _fail(self, err: Exception, doing: str) -> StoreError:
        text = " ".join(scrub(str(err), *self._secrets).split())
        hint = ""
        low = " ".join(str(err).split()).lower()  # the hint is chosen on the server's own words
        if "password authentication failed" in low or "no password supplied" in low:
            hint = "; check the user and the password (set it in PGPASSWORD, not in the URL)"
        elif "connection refused" in low or "could not connect" in low or "timeout" in low:
            hint = "; is the server running and reachable from this machine?"
        elif "does not exist" in low and "database" in low:
            hint = "; create the database first (createdb NAME)"
        return StoreError(f"{doing} the history at {self.where} failed: {text}{hint}")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
