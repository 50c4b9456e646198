"""History of runs: SQLite under the project's ``.carbon/`` by default, PostgreSQL for an organisation.

A store reads and writes only report dicts (the JSON's shape), so a saved report can be pushed
later exactly as the plugin records a live one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pytest_carbon.store.base import NoHistory, Store, StoreError
from pytest_carbon.store.schema import SCHEMA_VERSION

__all__ = [
    "OFF",
    "SCHEMA_VERSION",
    "NoHistory",
    "Store",
    "StoreError",
    "check_location",
    "default_path",
    "describe_url",
    "open_store",
    "project_root",
    "url_from_env",
]

#: the environment variable that names the history for the commands (and the plugin's option)
ENV = "PYTEST_CARBON_STORE"
#: the spellings of a history turned off
OFF = frozenset(("off", "none", "false", "0", "no"))


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


def open_store(url: str | None, root: Path, *, read_only: bool = False) -> Store:
    """Open (and create or migrate) the history at ``url``; None or "" means SQLite under ``root``.

    ``url`` may be ``postgresql://...`` (or ``postgres://``), ``sqlite:///path`` or a plain file path.
    ``read_only``: for the commands that only read: nothing is created, migrated or written
    (``NoHistory`` where there is no history yet). Raise StoreError with a message that says
    what to do when it cannot be used.
    """
    text = (url or "").strip()
    if text.lower() in OFF:
        raise StoreError("the history is turned off (--carbon-store=off): there is nothing to open")
    if text.startswith(("postgresql://", "postgres://")):
        from pytest_carbon.store.postgresql import PostgresStore

        return PostgresStore(text, read_only=read_only)
    from pytest_carbon.store.sqlite import SQLiteStore

    return SQLiteStore(sqlite_path(text, root), read_only=read_only)


def sqlite_path(url: str, root: Path) -> Path:
    """The file of a SQLite history URL or path ("" for the default under ``root``); StoreError for a bad one."""
    text = url.strip()
    if not text:
        return default_path(root)
    if text.startswith("sqlite://"):
        text = text.removeprefix("sqlite://")
        if not text:
            raise StoreError("write a SQLite history as sqlite:///path/to/history.sqlite or as a plain path")
    elif "://" in text:
        raise StoreError(
            f"unknown history URL scheme in {describe_url(text, root)}: use postgresql://USER@HOST/DB, "
            "sqlite:///PATH or a file path"
        )
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        user = expanded[1:].split("/", 1)[0]
        raise StoreError(f"{text}: there is no user {user!r} for ~{user}; write the folder in full")
    path = Path(expanded)
    if not path.is_absolute():
        path = root / path
    try:
        if path.is_dir():
            path = path / "history.sqlite"
    except OSError:
        pass  # a name too long, a folder that cannot be entered: said by the check or when opening
    return path


def check_location(url: str, root: Path) -> None:
    """Check at start-up that a history can be kept at ``url`` (not its content); StoreError otherwise.

    The scheme, psycopg for PostgreSQL, and for a file what ``outputs.check_output_path`` checks
    (a folder that exists or can be made, the name's length, no kernel filesystem); an existing
    file must be a regular one.
    """
    text = url.strip()
    if not text or text.lower() in OFF:
        return
    if text.startswith(("postgresql://", "postgres://")):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise StoreError("a postgresql:// history needs psycopg 3: pip install 'pytest-carbon[postgresql]'")
        return
    from pytest_carbon.outputs import NAME_MAX, OutputError, check_output_path

    path = sqlite_path(text, root)
    try:
        check_output_path(str(path), example="history.sqlite", stdout=False)
    except OutputError as err:
        raise StoreError(str(err)) from None
    size = len(os.fsencode(path.name))
    if size + len("-wal") > NAME_MAX:
        raise StoreError(
            f"the history's file name is {size} bytes long: SQLite writes a file named like it with -wal added "
            f"beside it, and a file name holds at most {NAME_MAX} bytes; choose a shorter name"
        )
    try:
        found = path.stat()
    except OSError:
        return  # nothing there yet: made at the end
    if not stat.S_ISREG(found.st_mode):
        raise StoreError(f"{path} is not a regular file; a history is a SQLite file: choose a path")


def project_root(start: Path) -> Path:
    """The project's root folder as pytest finds it from ``start``: where the commands' default history lives.

    The nearest folder (``start`` or above) with pytest's configuration (pytest.ini, .pytest.ini,
    pyproject.toml with [tool.pytest.ini_options], tox.ini with [pytest], setup.cfg with
    [tool:pytest]); else the nearest with setup.py or pyproject.toml; else ``start``.
    """
    start = start.absolute()
    folders = [start, *start.parents]
    for folder in folders:
        for name, section in _INI_FILES:
            candidate = folder / name
            if candidate.is_file() and (section is None or _has_section(candidate, section)):
                return folder
    for folder in folders:
        if (folder / "setup.py").is_file() or (folder / "pyproject.toml").is_file():
            return folder
    return start


#: pytest's configuration files, in the order pytest looks for them, and the section each needs
_INI_FILES = (
    ("pytest.ini", None),
    (".pytest.ini", None),
    ("pyproject.toml", "[tool.pytest.ini_options]"),
    ("tox.ini", "[pytest]"),
    ("setup.cfg", "[tool:pytest]"),
)


def _has_section(path: Path, section: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.strip() == section for line in text.splitlines())
