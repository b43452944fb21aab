"""Everything that depends on the database engine: engine set-up, SQLite's WAL and write
settings, SQL functions compiled per dialect, bulk inserts, row claims, advisory locks.

The one module that knows SQLite from PostgreSQL; the rest of the store is written once.
"""

from __future__ import annotations

import functools
import math
import operator
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Integer,
    SmallInteger,
    Table,
    event,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.compiler import compiles

from ..core.errors import ConfigError
from .measures import LATENCY_RESOLUTION, SHORTEST_LATENCY_MS

UTC = timezone.utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Small enough for SQLite's bound-parameter limit on old builds (999) and for PostgreSQL.
_IN_CHUNK = 500

_T = TypeVar("_T")


class UtcDateTime(sa.types.TypeDecorator):
    """An aware datetime stored as UTC; read back aware UTC on every engine.

    SQLite has no time zones, so values are converted to UTC before they are written
    and marked UTC when read. A naive datetime is refused: its zone would be a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise _naive_datetime(value)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        # Bulk inserts bind two times per row: where the engine allows, one quick conversion
        # instead of process_bind_param followed by SQLAlchemy's own (see _utc_binder).
        return _utc_binder(dialect) or super().bind_processor(dialect)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _naive_datetime(value: datetime) -> ValueError:
    return ValueError(f"A naive datetime ({value.isoformat()}) cannot be stored; give it a time zone.")


# -- Dialect-specific -------------------------------------------------------------------------
# The place for SQL or settings that depend on the engine. The rest of the store is portable
# SQLAlchemy Core.

# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid; PostgreSQL gets BIGINT.
_ID = BigInteger().with_variant(Integer(), "sqlite")

_WRITE_OPTION = "smslib_write"

_SQLITE_BUSY_TIMEOUT_MS = 30_000

# For the length of a write transaction: a 64 MiB page cache (the default is 2 MiB) and
# temporary tables in memory (2).
_SQLITE_WRITE_SETTINGS = {"cache_size": -65_536, "temp_store": 2}

_SQLITE_DEFAULTS_KEY = "smslib_sqlite_defaults"  # where a connection keeps the values _write_settings restores

_MIGRATION_LOCK_KEY = 0x534D5331  # "SMS1": the PostgreSQL advisory lock taken while migrating


def _configure_engine(engine: Engine) -> None:
    """Per-connection settings: WAL, busy timeout, foreign keys and explicit BEGIN on SQLite."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The sqlite3 driver would BEGIN only before DML, so reads in a transaction would
        # not be isolated; the "begin" hook below issues BEGIN itself instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # First: processes opening a new file together wait for each other from here on
        # (switching to WAL needs a moment alone with the file).
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
        cursor.execute("PRAGMA foreign_keys=ON")
        # SQLAlchemy gives SQLite Python's math.floor as floor(), which refuses NULL; this one
        # passes NULL through, as SQL functions do (the latency bucket of no latency).
        dbapi_connection.create_function("floor", 1, _python_floor, deterministic=True)
        try:
            cursor.execute("SELECT ln(2.0)").fetchall()
        except sqlite3.OperationalError:  # a build without the math functions: the latency bucket needs ln
            dbapi_connection.create_function("ln", 1, _python_ln, deterministic=True)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A write transaction takes the write lock at once (IMMEDIATE) so that another
        # process waits on busy_timeout instead of failing halfway with "database is locked".
        writing = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """``PRAGMA journal_mode=WAL``, waiting for the file as long as the busy timeout.

    The switch can answer "database is locked" at once, without the busy handler, while
    another process opening the same new file holds it: then it is tried again shortly.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def _write_settings(connection: Connection) -> Iterator[None]:
    """SQLite: room in memory for the length of one write transaction, then the defaults again.

    The default 2 MiB page cache thrashes once the indexes on random keys (message ids,
    report ids) outgrow it: a bulk send or a report sync then reads the same pages again
    and again; and an UPDATE ... FROM materialises its join, in memory rather than in a
    temporary file. Reads keep the defaults, so a process that only reads (the analytics)
    does not grow.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    # The connection's own values, read once per connection (its info lives as long as it does).
    defaults = connection.connection.info.get(_SQLITE_DEFAULTS_KEY)
    if defaults is None:
        defaults = connection.connection.info[_SQLITE_DEFAULTS_KEY] = {
            name: driver.execute(f"PRAGMA {name}").fetchone()[0] for name in _SQLITE_WRITE_SETTINGS}
    for name, value in _SQLITE_WRITE_SETTINGS.items():
        driver.execute(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        for name, value in defaults.items():
            driver.execute(f"PRAGMA {name}={int(value)}")  # cache pages beyond the default are freed at once


def _updates_from_joins(connection: Connection) -> bool:
    """Whether the engine takes ``UPDATE ... FROM`` (SQLite since 3.33; PostgreSQL always)."""
    return connection.dialect.name != "sqlite" or sqlite3.sqlite_version_info >= (3, 33, 0)


def _python_ln(value: float | None) -> float | None:
    return math.log(value) if value is not None and value > 0 else None


def _python_floor(value: float | None) -> int | None:
    return math.floor(value) if value is not None else None


def _utc_binder(dialect: sa.Dialect) -> Callable[[datetime | None], str | None] | None:
    """``UtcDateTime``'s bind processor where it has a quicker one than SQLAlchemy's (SQLite), else None."""
    return _sqlite_utc_text if dialect.name == "sqlite" else None


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """An aware time as SQLAlchemy's SQLite DATETIME text ('YYYY-MM-DD HH:MM:SS.ffffff'), in UTC.

    The very text SQLAlchemy would write after ``UtcDateTime.process_bind_param``, so stored
    times compare as before; only quicker.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise _naive_datetime(value)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class epoch_hour(sa.sql.functions.FunctionElement):  # noqa: N801 (a SQL function)
    """The hours since 1970 of a stored UTC time (floor), as an integer."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_hour, "sqlite")
def _epoch_hour_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    # Whole seconds only: strftime() would round 59.9999 s up into the next hour.
    return f"(CAST(strftime('%s', substr({compiler.process(element.clauses, **kw)}, 1, 19)) AS INTEGER) / 3600)"


@compiles(epoch_hour, "postgresql")
def _epoch_hour_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(floor(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / 3600) AS INTEGER)"


class milliseconds_between(sa.sql.functions.FunctionElement):  # noqa: N801 (a SQL function)
    """Whole milliseconds from the second stored UTC time to the first."""

    type = BigInteger()
    inherit_cache = True


@compiles(milliseconds_between, "sqlite")
def _milliseconds_between_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    # julianday() keeps milliseconds, so the difference is a whole number of them up to rounding.
    return f"CAST(round((julianday({later}) - julianday({earlier})) * 86400000.0) AS INTEGER)"


@compiles(milliseconds_between, "postgresql")
def _milliseconds_between_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(round(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000) AS BIGINT)"


class latency_bucket_of(sa.sql.functions.FunctionElement):  # noqa: N801 (a SQL function)
    """The log bucket floor(ln(seconds) * LATENCY_RESOLUTION) of a latency in milliseconds."""

    type = SmallInteger()
    inherit_cache = True


@compiles(latency_bucket_of, "sqlite")
def _latency_bucket_of_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    ms = compiler.process(element.clauses, **kw)
    # NULL in, NULL out: max() of a NULL is NULL, and so are ln() and our floor() of it.
    return (f"CAST(floor(ln(CAST(max({ms}, {SHORTEST_LATENCY_MS}) AS DOUBLE PRECISION) / 1000.0)"
            f" * {LATENCY_RESOLUTION}) AS INTEGER)")


@compiles(latency_bucket_of, "postgresql")
def _latency_bucket_of_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    ms = compiler.process(element.clauses, **kw)
    # CASE first: greatest() skips a NULL, so it alone would give no latency a bucket.
    return (f"CASE WHEN {ms} IS NOT NULL THEN CAST(floor(ln(CAST(greatest({ms}, {SHORTEST_LATENCY_MS})"
            f" AS DOUBLE PRECISION) / 1000.0) * {LATENCY_RESOLUTION}) AS INTEGER) END")


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        return {}
    return {"pool_pre_ping": True}


def _check_sqlite_url(url: URL) -> None:
    """Refuse in-memory SQLite (each pooled connection would see its own empty database)."""
    if url.get_backend_name() != "sqlite":
        return
    if not url.database or url.database == ":memory:" or "mode=memory" in str(url):
        raise ConfigError(
            "An in-memory SQLite database cannot be shared between connections; "
            "use a file, e.g. sqlite:///data/sms.db.",
            field="SMS_DB_URL",
        )
    Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _insert_ignoring_conflicts(connection: Connection, table: Table) -> Any:
    """An INSERT that skips rows whose primary or unique key already exists."""
    name = connection.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise ConfigError(f"The store supports SQLite and PostgreSQL, not {name}.", field="SMS_DB_URL")
    return insert(table).on_conflict_do_nothing()


def _insert_many(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
                 ignoring_conflicts: bool = False) -> None:
    """Insert ``rows`` (mappings with the same keys); ``ignoring_conflicts`` skips those whose key exists.

    On SQLite the rows go to the driver's executemany as tuples, converted by the columns'
    own bind processors: SQLAlchemy's per-row parameter handling costs twice the insert
    itself there (a report sync stores 100,000 rows, a bulk batch 1,000). Rows that leave
    a column with a Python-side default out take SQLAlchemy's way, which runs it.
    """
    if not rows:
        return
    keys = tuple(rows[0])
    plan = _driver_insert(connection.dialect, table, keys, ignoring_conflicts)
    if plan is None:
        statement = _insert_ignoring_conflicts(connection, table) if ignoring_conflicts else table.insert()
        connection.execute(statement, rows)
        return
    sql, values_of, converters = plan
    if converters:
        columns: list[Sequence[Any]] = list(zip(*map(values_of, rows)))
        for position, convert in converters:
            columns[position] = _converted(columns[position], convert)
        connection.exec_driver_sql(sql, list(zip(*columns)))
    else:
        connection.exec_driver_sql(sql, list(map(values_of, rows)))


def _converted(values: Sequence[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """``values`` converted, each distinct one once: bulk rows repeat them (the times of one request or sync)."""
    try:
        once = {value: convert(value) for value in set(values)}
    except TypeError:  # a value that cannot be hashed
        return list(map(convert, values))
    return [once[value] for value in values]


@functools.lru_cache(maxsize=16)
def _driver_insert(dialect: sa.Dialect, table: Table, keys: tuple[str, ...], ignoring_conflicts: bool) -> Any:
    """For ``_insert_many`` on SQLite: the SQL, a getter of a row's values in its order, and their converters."""
    if dialect.name != "sqlite" or any(
        column.default is not None and column.key not in keys for column in table.columns
    ):
        return None
    from sqlalchemy.dialects.sqlite import insert

    statement = insert(table).on_conflict_do_nothing() if ignoring_conflicts else insert(table)
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    order = list(compiled.positiontup or ())
    if sorted(order) != sorted(keys):
        return None  # a key that is not a plain column: leave it to SQLAlchemy
    converters = tuple(
        (position, processor) for position, key in enumerate(order)
        if (processor := table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    values_of = operator.itemgetter(*order) if len(order) > 1 else (lambda row: (row[order[0]],))
    return compiled.string, values_of, converters


def _database_url(url: URL) -> URL:
    """The URL a provider hands out (``postgres://``, ``postgresql://``) on psycopg 3, the driver installed."""
    if url.drivername in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _claim_lock(query: sa.Select[Any]) -> sa.Select[Any]:
    """Lock the rows a claim reads, skipping those another worker is claiming right now.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent workers each get a different row
    without waiting on each other. SQLite compiles no clause: its write transaction
    (BEGIN IMMEDIATE) already admits one claimer at a time.
    """
    return query.with_for_update(skip_locked=True)


_SESSION_LOCK_NAMESPACE = 0x534D5332  # "SMS2": first key of the named PostgreSQL advisory locks


def _session_lock_key(name: str) -> int:
    """The second key of a named advisory lock: a signed 32-bit hash of the name."""
    value = zlib.crc32(name.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def _try_session_lock(connection: Connection, name: str) -> bool | None:
    """Take a named lock held as long as ``connection`` lives; None where the engine has none (SQLite).

    PostgreSQL drops a session's advisory locks when the session ends, so a process that
    dies holding one frees it at once.
    """
    if connection.dialect.name != "postgresql":
        return None
    taken = connection.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :key)"),
                               {"ns": _SESSION_LOCK_NAMESPACE, "key": _session_lock_key(name)}).scalar()
    connection.commit()  # the lock outlives the transaction; an idle open one would hold back vacuum
    return bool(taken)


def _release_session_lock(connection: Connection, name: str) -> None:
    connection.execute(sa.text("SELECT pg_advisory_unlock(:ns, :key)"),
                       {"ns": _SESSION_LOCK_NAMESPACE, "key": _session_lock_key(name)})
    connection.commit()


def _lock_schema(connection: Connection) -> None:
    """Make processes that open the store together migrate one after the other."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    # SQLite: the migration runs in a BEGIN IMMEDIATE transaction, which is the lock.
