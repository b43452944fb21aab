"""The store object itself: opening, closing, transactions (one writer, readers per thread).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import (
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL

from ..core.errors import ConfigError
from .dialect import (
    _WRITE_OPTION,
    _check_sqlite_url,
    _configure_engine,
    _database_url,
    _engine_options,
    _write_settings,
)
from .migrations import _migrate, _read_meta
from .schema import meta

# -- Helpers of the store -----------------------------------------------------------------------


def database_problem(error: Exception, url: str) -> str:
    """A sentence for a database error: the database's own reason, never the URL's password."""
    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
    try:
        password = make_url(url).password
    except sa.exc.ArgumentError:
        password = None
    if password:
        reason = reason.replace(str(password), "***")
    return (f"The message store cannot be used: {reason}. Check that the database in SMS_DB_URL is "
            "running and reachable, and the user and password in the URL.")


# -- Statements of the sending path, built once ---------------------------------------------------
# Building a statement costs SQLAlchemy more than running one; these run for every batch or
# request of a bulk job, so they are built here once and run with their values as parameters.

_COUNT_A_CHANGE = update(meta).where(meta.c.key == "changes").values(value=meta.c.value + 1)


class _StoreBase:
    """The database behind the dashboard. Thread-safe; open once per process and share."""

    def __init__(self, url: str | URL) -> None:
        try:
            self._url = _database_url(make_url(url))
        except sa.exc.ArgumentError:
            # The URL is not quoted: it may carry a database password.
            raise ConfigError(
                "SMS_DB_URL is not a database URL; use sqlite:///path/to/file.db or "
                "postgresql://user:password@host:5432/database.", field="SMS_DB_URL") from None
        _check_sqlite_url(self._url)
        self.engine: Engine = sa.create_engine(self._url, **_engine_options(self._url))
        _configure_engine(self.engine)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        try:
            with self.atomic() as connection:
                self.migrated_from = _migrate(connection)
        except BaseException:
            self.engine.dispose()  # no pooled connection outlives a store that failed to open
            raise

    @classmethod
    def open(cls, url: str | URL) -> Self:
        """Open (and create or migrate, when needed) the store at a SQLAlchemy URL."""
        return cls(url)

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        """Open the store named by ``SMS_DB_URL`` (default: the SQLite file in ``SMS_DATA_DIR``)."""
        return cls(settings.store_url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Connection]:
        """One write transaction, under the Store's lock; nested calls join the outer one.

        Store methods called inside it (in the same thread) take part in the same
        transaction, so several of them commit or roll back together.
        """
        with self._writing(counted=True) as connection:
            yield connection

    @contextmanager
    def _writing(self, *, counted: bool) -> Iterator[Connection]:
        """A write transaction; ``counted=False`` for bookkeeping (heartbeats, leases, the rate
        budget) that pages don't show from their caches, so it leaves the change counter alone."""
        outer = getattr(self._local, "connection", None)
        if outer is not None:
            yield outer
            return
        with self._write_lock, self.engine.connect() as connection, _write_settings(connection):
            connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                self._local.connection = connection
                try:
                    yield connection
                    if counted:
                        connection.execute(_COUNT_A_CHANGE)
                finally:
                    self._local.connection = None

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for reads: the thread's write transaction if any, else a pooled one."""
        outer = getattr(self._local, "connection", None)
        if outer is not None:
            yield outer
            return
        with self.engine.connect() as connection:
            yield connection

    def change_counter(self) -> int:
        """A number that grows with every write: a cheap key for caching query results."""
        with self._reading() as connection:
            return int(_read_meta(connection, "changes") or 0)

    def recorded_schema_version(self) -> int:
        with self._reading() as connection:
            return int(_read_meta(connection, "schema_version") or 0)
