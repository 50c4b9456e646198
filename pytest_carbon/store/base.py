"""What every history store does, whatever the database: the queries, written once."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from pytest_carbon.errors import NoHistory as NoHistory
from pytest_carbon.errors import StoreError as StoreError
from pytest_carbon.store import schema


class Store:
    """A history of runs; subclasses supply the connection, transactions and bulk insert."""

    #: placeholder of a query parameter in this dialect's SQL
    param = "?"
    #: where the history lives, for messages (a path, or a URL without its password)
    where = ""

    # ------------------------------------------------------------------ dialect hooks

    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction; yields a cursor."""
        raise NotImplementedError

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read query."""
        raise NotImplementedError

    def _insert_tests(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        """Insert many ``tests`` rows in the current transaction."""
        raise NotImplementedError

    def _fail(self, err: Exception, doing: str) -> StoreError:
        """Translate a database error into a StoreError that says what to do."""
        return StoreError(f"{doing} in the history at {self.where} failed: {err}")

    def close(self) -> None:
        """Close the connection; the store cannot be used after this."""

    # ------------------------------------------------------------------ API

    def _sql(self, text: str) -> str:
        return text if self.param == "?" else text.replace("?", self.param)

    def record(
        self,
        report: dict[str, Any],
        project: str | None = None,
        organisation: str | None = None,
        *,
        built_here: bool = False,
    ) -> bool:
        """Store one run and its tests in one transaction; a run id already stored is left as it is.

        Return True when the run was stored, False when it was there already. ``built_here``: the
        report comes from this process's session (not from a file), so its test entries are not
        checked one by one before they are stored.
        """
        try:
            schema.check_report(report, tests=not built_here)
            run = schema.run_row(report, project, organisation)
            tests = schema.test_rows(report["run"]["id"], report["tests"])
        except (schema.ReportError, KeyError, TypeError, AttributeError) as err:
            what = f"no {err}" if isinstance(err, KeyError) else str(err)
            raise StoreError(f"cannot store this report: {what}") from None
        marks = ", ".join("?" for _ in schema.RUN_COLUMNS)
        insert_run = self._sql(
            f"INSERT INTO runs ({', '.join(schema.RUN_COLUMNS)}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
        )
        with self._transaction() as cur:
            cur.execute(insert_run, run)
            if cur.rowcount == 0:
                return False  # this run is already in the history
            if tests:
                self._insert_tests(cur, tests)
        return True

    def runs(
        self,
        project: str | None = None,
        branch: str | None = None,
        limit: int | None = None,
        organisation: str | None = None,
    ) -> list[dict[str, Any]]:
        """Stored runs, newest first, optionally of one project, branch and organisation."""
        where, params = self._filters(project=project, branch=branch, organisation=organisation)
        sql = f"SELECT {', '.join(schema.SUMMARY_COLUMNS)} FROM runs{where} ORDER BY started_at DESC, stored_at DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [schema.summary(row) for row in self._query(self._sql(sql), params)]

    def projects(self) -> list[str]:
        """Names of the projects with at least one stored run."""
        return [row[0] for row in self._query("SELECT DISTINCT project FROM runs ORDER BY project")]

    def tests(self, run_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The tests of one run: in report order, or the ``limit`` costliest first when a limit is given."""
        sql = f"SELECT {', '.join(schema.TEST_COLUMNS)} FROM tests WHERE run_id = ?"
        if limit is None:
            sql += " ORDER BY seq"
        else:
            sql += f" ORDER BY energy_j DESC, seq LIMIT {int(limit)}"
        return [schema.test_entry(row) for row in self._query(self._sql(sql), (run_id,))]

    def report(self, run_id: str, with_tests: bool = True) -> dict[str, Any] | None:
        """The stored report of one run (as it was recorded), or None if there is no such run."""
        rows = self._query(self._sql("SELECT report, project, organisation FROM runs WHERE id = ?"), (run_id,))
        if not rows:
            return None
        report: dict[str, Any] = json.loads(rows[0][0])
        report.setdefault("run", {})["project"] = rows[0][1]
        if rows[0][2] is not None:
            report["run"]["organisation"] = rows[0][2]
        report["tests"] = self.tests(run_id) if with_tests else []
        return report

    def last_report(self, project: str, branch: str | None) -> dict[str, Any] | None:
        """The newest complete run of ``project`` on ``branch`` (any branch when None), with its tests."""
        where, params = self._filters(project=project, branch=branch)
        sql = f"SELECT id FROM runs{where} AND complete = 1 ORDER BY started_at DESC, stored_at DESC LIMIT 1"
        rows = self._query(self._sql(sql), params)
        return self.report(rows[0][0]) if rows else None

    def recent_reports(self, project: str, branch: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest complete runs of ``project`` on ``branch`` (any branch when None), newest first."""
        where, params = self._filters(project=project, branch=branch)
        sql = (
            f"SELECT id FROM runs{where} AND complete = 1 ORDER BY started_at DESC, stored_at DESC "
            f"LIMIT {max(int(limit), 0)}"
        )
        reports = (self.report(row[0]) for row in self._query(self._sql(sql), params))
        return [r for r in reports if r is not None]

    @staticmethod
    def _filters(**values: str | None) -> tuple[str, list[Any]]:
        clauses = [f"{name} = ?" for name, value in values.items() if value is not None]
        params = [value for value in values.values() if value is not None]
        return (" WHERE " + " AND ".join(clauses) if clauses else " WHERE 1 = 1"), params

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def migration_steps(current: int, real: str) -> Iterator[tuple[int, list[str]]]:
    """The steps that bring a database at version ``current`` to ``SCHEMA_VERSION``."""
    for version, statements in schema.MIGRATIONS:
        if version > current:
            yield version, [s.format(real=real) for s in statements]


def newer_schema(where: str, found: int) -> StoreError:
    """The error for a database written by a newer pytest-carbon."""
    return StoreError(
        f"the history at {where} has schema version {found}, newer than this pytest-carbon knows "
        f"({schema.SCHEMA_VERSION}): upgrade pytest-carbon (pip install -U pytest-carbon), "
        "or point --carbon-store at another history"
    )


def parse_schema_version(where: str, value: object) -> int:
    """The schema version held in a history's ``meta`` table; StoreError for one pytest-carbon cannot use.

    pytest-carbon writes a whole number from 1 to ``SCHEMA_VERSION``; anything else (text, a
    negative number, a version from a newer release) means the history is not one this release
    may change, and it is left as it is.
    """
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise StoreError(
            f"the history at {where} holds schema version {value!r} in its meta table, which pytest-carbon "
            "never writes: it was left as it is; move it away or choose another history with --carbon-store=PATH"
        )
    found = int(text)
    if found > schema.SCHEMA_VERSION:
        raise newer_schema(where, found)
    return found
