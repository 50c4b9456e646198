"""History of runs: SQLite under the project's ``.carbon/`` by default, PostgreSQL for an organisation.

A store reads and writes only report dicts (the JSON's shape), so a saved report can be pushed
later exactly as the plugin records a live one.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_carbon.store.base import Store, StoreError
from pytest_carbon.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "default_path", "describe_url", "open_store", "url_from_env"]

#: the environment variable that names the history for the commands (and the plugin's option)
ENV = "PYTEST_CARBON_STORE"


def default_path(root: Path) -> Path:
    """Where the default SQLite history of the project at ``root`` lives."""
    return root / ".carbon" / "history.sqlite"


def url_from_env(url: str | None = None) -> str | None:
    """``url`` if given, else PYTEST_CARBON_STORE, else None (the default SQLite file)."""
    if url:
        return url
    return os.environ.get(ENV) or None


def describe_url(url: str | None, root: Path) -> str:
    """Where ``url`` points, for messages: the file, or the URL without its password."""
    from pytest_carbon.store.postgresql import scrub

    if not url:
        return str(default_path(root))
    return scrub(url)


def open_store(url: str | None, root: Path) -> Store:
    """Open (and create or migrate) the history at ``url``; None or "" means SQLite under ``root``.

    ``url`` may be ``postgresql://...`` (or ``postgres://``), ``sqlite:///path`` or a plain file path.
    Raise StoreError with a message that says what to do when it cannot be used.
    """
    text = (url or "").strip()
    if text.startswith(("postgresql://", "postgres://")):
        from pytest_carbon.store.postgresql import PostgresStore

        return PostgresStore(text)
    from pytest_carbon.store.sqlite import SQLiteStore

    if not text:
        return SQLiteStore(default_path(root))
    if text.startswith("sqlite://"):
        text = text.removeprefix("sqlite://")
        if not text:
            raise StoreError("write a SQLite history as sqlite:///path/to/history.sqlite or as a plain path")
    elif "://" in text:
        raise StoreError(
            f"unknown history URL scheme in {describe_url(text, root)}: use postgresql://USER@HOST/DB, "
            "sqlite:///PATH or a file path"
        )
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = root / path
    if path.is_dir():
        path = path / "history.sqlite"
    return SQLiteStore(path)
