"""The database: schema, migrations, writes and queries, in SQLAlchemy Core.

One ``Store`` serves a whole process (the app keeps it in ``st.cache_resource``) and is
safe to share between threads: every write runs in one transaction under the Store's
lock (``atomic()``), every read takes its own pooled connection.

SQLite is the default; PostgreSQL works with the same code. Everything that depends on
the database engine lives in the block marked "Dialect-specific" below, nowhere else.
Times go in and come out as aware UTC datetimes, whatever the engine.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import operator
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.compiler import compiles

from .core.errors import ConfigError, ConflictError, InvalidPhoneNumber, ValidationError
from .core.models import Channel, DeliveryReport, DeliveryStatus, MessageState

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
# The one place for SQL or settings that depend on the engine. Everything else in this
# module is portable SQLAlchemy Core.

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


# Derived columns of messages, for the analytics' GROUP BYs: the UTC hour of submitted_at as
# an integer (hours since 1970), and delivered_at - accepted_at in whole milliseconds with
# its log bucket. The same values are computed in Python (inserts) and in SQL (updates).
LATENCY_RESOLUTION = 100  # log buckets per unit of ln(seconds): each is exp(1/100) - 1 ≈ 1 % wide
SHORTEST_LATENCY_MS = 1   # a latency of 0 (or a skewed negative one) counts as 1 ms


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


def hour_number(when: datetime) -> int:
    """Hours since 1970 of an aware time (floor): the value of messages.submitted_hour."""
    return math.floor(when.timestamp() / 3600)


def latency_milliseconds(delivered_at: datetime | None, accepted_at: datetime | None) -> int | None:
    """``delivered_at - accepted_at`` in whole milliseconds; None unless both are known."""
    if delivered_at is None or accepted_at is None:
        return None
    return round((delivered_at - accepted_at) / timedelta(milliseconds=1))


def latency_bucket(milliseconds: int | None) -> int | None:
    """The log bucket of a latency: floor(ln(seconds) * LATENCY_RESOLUTION), from 1 ms up."""
    if milliseconds is None:
        return None
    return math.floor(math.log(max(milliseconds, SHORTEST_LATENCY_MS) / 1000) * LATENCY_RESOLUTION)


def _inserted(column: str) -> Any:
    return lambda context: context.get_current_parameters().get(column)


def _default_submitted_hour(context: Any) -> int | None:
    submitted_at = _inserted("submitted_at")(context)
    return hour_number(submitted_at) if submitted_at is not None else None


def _default_latency_ms(context: Any) -> int | None:
    return latency_milliseconds(_inserted("delivered_at")(context), _inserted("accepted_at")(context))


def _default_latency_bucket(context: Any) -> int | None:
    return latency_bucket(_default_latency_ms(context))


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


# -- Schema -----------------------------------------------------------------------------------

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
    comment="schema_version, and changes: bumped by every write (cache invalidation).",
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("source_filename", String(500)),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("settings", Text, nullable=False, server_default="{}"),  # JSON
    Column("state", String(16), nullable=False),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("accepted", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("uncertain", Integer, nullable=False, server_default="0"),
    Column("scheduled_at", UtcDateTime),
    Column("send_window", Text),  # JSON, its shape is smslib.jobs' business
    Column("last_error", Text),
    Index("ix_jobs_created_at", "created_at"),
    Index("ix_jobs_state", "state"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("job_id", _ID, ForeignKey("jobs.id", ondelete="CASCADE")),
    Column("seq", Integer),
    Column("transaction_id", String(64), nullable=False, unique=True),
    Column("phones", Text, nullable=False),  # JSON list of E.164 numbers
    Column("source_rows", Text),  # JSON list aligned with phones, for bulk jobs
    Column("text", Text, nullable=False),
    Column("options", Text, nullable=False),  # JSON of SendOptions
    Column("segments", Integer),
    Column("encoding", String(8)),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("lease_holder", String(64)),
    Column("lease_expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_batches_job_seq", "job_id", "seq"),
    Index("ix_batches_state", "state"),
    # A claim finds the job's next pending batches here directly, whatever it has sent already.
    Index("ix_batches_job_state_seq", "job_id", "state", "seq"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("message_id", String(64), unique=True),
    Column("phone", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("sender", String(32)),
    Column("priority", SmallInteger),
    Column("flash", Boolean),
    Column("cost_center", String(64)),
    Column("transaction_id", String(64)),
    Column("channel", String(16), nullable=False),
    Column("job_id", _ID, ForeignKey("jobs.id", ondelete="SET NULL")),
    Column("batch_id", _ID, ForeignKey("batches.id", ondelete="SET NULL")),
    Column("source_row", Integer),
    Column("segments", Integer),
    Column("encoding", String(8)),
    Column("sent_by", String(100), nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("accepted_at", UtcDateTime),
    Column("state", String(16), nullable=False),
    Column("status_code", Integer),
    Column("delivered_at", UtcDateTime),
    Column("report_id", String(64)),
    Column("report_checked_at", UtcDateTime),  # last time the gateway was asked by id
    Column("error", Text),
    # Derived, for the analytics (see hour_number, latency_milliseconds, latency_bucket): set
    # from the row on insert, and with delivered_at when a report is applied.
    Column("submitted_hour", Integer, default=_default_submitted_hour),
    Column("latency_ms", BigInteger, default=_default_latency_ms),
    Column("latency_bucket", SmallInteger, default=_default_latency_bucket),
    # (submitted_at, id) is the default keyset order of the history.
    Index("ix_messages_submitted", "submitted_at", "id"),
    Index("ix_messages_state", "state", "submitted_at"),
    # With submitted_at: the analytics count a number's (or a prefix's) messages of a period here.
    Index("ix_messages_phone", "phone", "submitted_at"),
    # The analytics read these without touching the table, in GROUP BY order (no sort): per
    # hour and state with every field a view can narrow by, and the latency buckets per hour
    # (also the failures per number, state first).
    Index("ix_messages_hour_fields", "submitted_hour", "sender", "cost_center", "priority", "job_id", "state",
          "flash", "channel", "segments", "submitted_at", "phone"),
    Index("ix_messages_hour_latency", "state", "submitted_hour", "latency_bucket", "submitted_at", "sender",
          "cost_center", "priority", "job_id", "flash", "channel", "phone"),
    Index("ix_messages_job", "job_id"),
    Index("ix_messages_batch", "batch_id"),
    Index("ix_messages_sender", "sender"),
)

report_log = Table(
    "report_log",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("message_id", String(64), nullable=False),
    Column("phone", String(32)),
    Column("status", Integer, nullable=False),
    Column("delivery_time", UtcDateTime),
    Column("received_at", UtcDateTime, nullable=False),
    Column("raw", Text),  # JSON, as the gateway sent it
    # True: its message is in the store and it was applied; False: its message is unknown.
    # NULL only inside apply_reports' transaction ("not looked at yet"), never committed.
    Column("linked", Boolean),
    Index("ix_report_log_message", "message_id"),
    Index("ix_report_log_linked", "linked", "message_id"),
)

templates = Table(
    "templates",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("text", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

blocklist = Table(
    "blocklist",
    metadata,
    Column("phone", String(32), primary_key=True),
    Column("reason", Text, nullable=False, server_default=""),
    Column("added_at", UtcDateTime, nullable=False),
    Column("added_by", String(100), nullable=False),
)


workers = Table(
    "workers",
    metadata,
    Column("id", String(100), primary_key=True),  # host:pid:random, new at each start
    Column("kind", String(16), nullable=False),   # "worker" or "dashboard"
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("doing", Text, nullable=False, server_default=""),
    comment="One row per running worker or dashboard runner, written by its heartbeat.",
)

rate_budgets = Table(
    "rate_budgets",
    metadata,
    Column("name", String(64), primary_key=True),
    # Seconds since 1970 from which the next request may go: a shared virtual clock that
    # every sender moves forward by its request's share of the rate (see reserve_rate).
    Column("next_free", sa.Float, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    comment="Named locks with an expiry, where the engine has no session lock (SQLite).",
)


# -- Migrations -------------------------------------------------------------------------------
# A new database is built from the tables above and stamped with the latest version.
# An existing one runs, in order, every migration after its recorded version:
# MIGRATIONS[0] takes version 1 to 2, MIGRATIONS[1] takes 2 to 3, and so on. To change
# the schema, change the tables above AND append a migration doing the same to an old
# database; never edit or reorder a migration that has shipped.

Migration = Callable[[Connection], None]


def _add_analytics_columns(connection: Connection) -> None:
    """1 → 2: messages' submitted hour and latency stored, and the indexes the analytics read."""
    m = messages.c
    for name in _DERIVED:
        type_ = messages.c[name].type.compile(connection.dialect)
        connection.exec_driver_sql(f"ALTER TABLE messages ADD COLUMN {name} {type_}")
    connection.execute(update(messages).values(submitted_hour=epoch_hour(m.submitted_at)))
    connection.execute(update(messages).where(m.delivered_at.is_not(None), m.accepted_at.is_not(None))
                       .values(**_LATENCY_COLUMNS))
    connection.exec_driver_sql("DROP INDEX ix_messages_phone")  # widened: (phone) → (phone, submitted_at)
    for index in messages.indexes:
        if index.name in ("ix_messages_phone", "ix_messages_hour_fields", "ix_messages_hour_latency"):
            index.create(connection)


def _add_scale_out_tables(connection: Connection) -> None:
    """2 → 3: worker heartbeats, the shared rate budget and named leases, for several workers."""
    for table in (workers, rate_budgets, leases):
        table.create(connection)


def _add_claim_index(connection: Connection) -> None:
    """3 → 4: the index a claim reads (job, state, seq), so a claim costs the same at any point of a job."""
    next(index for index in batches.indexes if index.name == "ix_batches_job_state_seq").create(connection)


MIGRATIONS: list[Migration] = [_add_analytics_columns, _add_scale_out_tables, _add_claim_index]


def schema_version() -> int:
    """The version this code expects; a database is migrated up to it on open."""
    return 1 + len(MIGRATIONS)


def _read_meta(connection: Connection, key: str) -> int | None:
    return connection.scalar(select(meta.c.value).where(meta.c.key == key))


def _write_meta(connection: Connection, key: str, value: int) -> None:
    if connection.execute(update(meta).where(meta.c.key == key).values(value=value)).rowcount == 0:
        connection.execute(meta.insert().values(key=key, value=value))


def _migrate(connection: Connection) -> int:
    """Bring the schema to ``schema_version()``; return the version found before."""
    _lock_schema(connection)
    found = _read_meta(connection, "schema_version") if sa.inspect(connection).has_table("meta") else None
    target = schema_version()
    if found is None:
        metadata.create_all(connection)
        _write_meta(connection, "changes", 0)
        _write_meta(connection, "schema_version", target)
        return 0
    if found > target:
        raise ConfigError(
            f"The database is at schema version {found}, newer than this code ({target}); "
            "upgrade the dashboard before opening it.",
            field="SMS_DB_URL",
        )
    for version in range(found, target):
        MIGRATIONS[version - 1](connection)
        _write_meta(connection, "schema_version", version + 1)
    return found


# -- Values -----------------------------------------------------------------------------------


class BatchState(str, enum.Enum):
    """Where one gateway request stands (design.md "Exactly-once sending")."""

    PENDING = "pending"        # written, not sent yet (or sent and definitely refused for a while)
    SENDING = "sending"        # claimed by a sender; may be at the gateway right now
    ACCEPTED = "accepted"      # the gateway answered with message ids
    REJECTED = "rejected"      # the gateway refused it; nothing went out
    UNCERTAIN = "uncertain"    # it may or may not have gone out; a person decides


class JobState(str, enum.Enum):
    """Where one bulk job stands: queued → running ⇄ paused → done | cancelled | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class SendOptions:
    """How a batch is sent; stored with the batch and copied onto each of its messages."""

    sender: str | None = None
    priority: int | None = None
    flash: bool | None = None
    cost_center: str | None = None
    channel: Channel = Channel.SMSES
    sent_by: str = "local"

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "channel": self.channel.value}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SendOptions:
        data = json.loads(text)
        return cls(**{**data, "channel": Channel(data.get("channel", Channel.SMSES.value))})


@dataclass(frozen=True)
class StoredMessage:
    """One message as stored: one recipient of one send."""

    id: int
    message_id: str | None
    phone: str
    text: str
    sender: str | None
    priority: int | None
    flash: bool | None
    cost_center: str | None
    transaction_id: str | None
    channel: Channel
    job_id: int | None
    batch_id: int | None
    source_row: int | None
    segments: int | None
    encoding: str | None
    sent_by: str
    submitted_at: datetime
    accepted_at: datetime | None
    state: MessageState
    status_code: int | None
    delivered_at: datetime | None
    report_id: str | None
    report_checked_at: datetime | None
    error: str | None

    @property
    def latency(self) -> timedelta | None:
        """Delivery time minus acceptance time, both on the gateway's clock (contract §7)."""
        if self.delivered_at is None or self.accepted_at is None:
            return None
        return self.delivered_at - self.accepted_at


@dataclass(frozen=True)
class LoggedReport:
    """One delivery report as received, from the append-only report log."""

    report_id: str
    message_id: str
    phone: str | None
    status: DeliveryStatus
    delivery_time: datetime | None
    received_at: datetime
    raw: Any
    linked: bool


@dataclass(frozen=True)
class MessageDetail:
    """A message with every report received for it, oldest first."""

    message: StoredMessage
    reports: tuple[LoggedReport, ...]


@dataclass(frozen=True)
class Batch:
    """One gateway request: its recipients, text, options, state and lease."""

    id: int
    job_id: int | None
    seq: int | None
    transaction_id: str
    phones: tuple[str, ...]
    source_rows: tuple[int, ...] | None
    text: str
    options: SendOptions
    segments: int | None
    encoding: str | None
    state: BatchState
    attempts: int
    last_error: str | None
    lease_holder: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Job:
    """One bulk send: its settings, state and counters."""

    id: int
    name: str
    source_filename: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    settings: dict[str, Any]
    state: JobState
    total: int
    accepted: int
    failed: int
    uncertain: int
    scheduled_at: datetime | None
    send_window: Any
    last_error: str | None


@dataclass(frozen=True)
class SavedTemplate:
    """A saved message text."""

    id: int
    name: str
    text: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class BlockedPhone:
    """A number that must never receive a message."""

    phone: str
    reason: str
    added_at: datetime
    added_by: str


@dataclass(frozen=True)
class ApplyCounts:
    """What ``apply_reports`` did: reports new to the log, already logged, and of unknown messages."""

    new: int = 0
    duplicate: int = 0
    unknown: int = 0

    def __add__(self, other: ApplyCounts) -> ApplyCounts:
        return ApplyCounts(self.new + other.new, self.duplicate + other.duplicate, self.unknown + other.unknown)


class FinishedBatch(NamedTuple):
    """How a claimed batch ended, for ``Store.finish_batches``: its state, and the gateway's ids or the error."""

    batch: Batch
    holder: str
    state: BatchState  # accepted, rejected or uncertain
    submitted_at: datetime
    message_ids: Sequence[str] | None = None  # one per phone, when accepted
    accepted_at: datetime | None = None       # the gateway's CurrentTime, when accepted
    error: str | None = None


# The state of a batch's messages when it ends in the batch's state.
_MESSAGE_STATE_OF_BATCH = {
    BatchState.ACCEPTED: MessageState.PENDING,
    BatchState.REJECTED: MessageState.FAILED,
    BatchState.UNCERTAIN: MessageState.UNCERTAIN,
}


class Claim(NamedTuple):
    """A batch claimed for sending, and whether it was taken over from a sender that stopped."""

    batch: Batch
    taken_over: bool


@dataclass(frozen=True)
class WorkerInfo:
    """A process doing background work: a ``python -m smslib worker`` or a dashboard's runner."""

    id: str
    kind: str
    host: str
    pid: int
    started_at: datetime


@dataclass(frozen=True)
class WorkerBeat:
    """A worker's last heartbeat and what it was doing then."""

    worker: WorkerInfo
    heartbeat_at: datetime
    doing: str

    def alive(self, now: datetime, within: timedelta) -> bool:
        return now - self.heartbeat_at <= within


SortKey = Literal["submitted_at", "phone", "state", "id"]
_SORT_COLUMNS: dict[str, Column[Any]] = {
    "submitted_at": messages.c.submitted_at,
    "phone": messages.c.phone,
    "state": messages.c.state,
    "id": messages.c.id,
}


@dataclass(frozen=True)
class MessageFilter:
    """What the history shows. Empty fields do not filter; times are a half-open UTC range."""

    since: datetime | None = None          # submitted_at >= since
    until: datetime | None = None          # submitted_at < until
    phone: str = ""
    phone_match: Literal["contains", "prefix"] = "contains"
    text: str = ""                          # contains, ignoring case (ASCII letters on SQLite)
    states: tuple[MessageState, ...] = ()
    sender: str | None = None
    cost_center: str | None = None
    priority: int | None = None
    flash: bool | None = None
    job_id: int | None = None
    batch_id: int | None = None
    channel: Channel | None = None
    sent_by: str | None = None


class Cursor(NamedTuple):
    """Where the next page starts: the last row's sort value and id."""

    value: Any
    id: int


@dataclass(frozen=True)
class Page:
    """One page of history; ``next_cursor`` is None on the last page."""

    rows: list[StoredMessage]
    next_cursor: Cursor | None = None


# -- The store --------------------------------------------------------------------------------


class Store:
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
    def open(cls, url: str | URL) -> Store:
        """Open (and create or migrate, when needed) the store at a SQLAlchemy URL."""
        return cls(url)

    @classmethod
    def from_settings(cls, settings: Any) -> Store:
        """Open the store named by ``SMS_DB_URL`` (default: the SQLite file in ``SMS_DATA_DIR``)."""
        return cls(settings.store_url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
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

    # -- delivery reports --------------------------------------------------------------------

    def apply_reports(self, reports: Iterable[DeliveryReport], *, received_at: datetime | None = None) -> ApplyCounts:
        """Log new reports and update their messages, in one transaction; idempotent.

        Rules, so that the result does not depend on how often or in which order reports come:

        - a ReportId already in the log is a duplicate and changes nothing;
        - every new report is logged (append-only), also when its message is not in the
          store yet: it is applied when that message is recorded (``unknown`` counts them);
        - a message shows the best of its reports: a final status (1, -1, -2, -3) beats a
          non-final one (0 or a code the contract does not list), so a final status is never
          overwritten by 0; between two of the same kind the later DeliveryTime wins (a report
          without one counts as oldest); a tie goes to the greater ReportId.
        - ``delivered_at`` is the winning report's DeliveryTime, whatever its status.
        """
        received_at = _aware(received_at) or _utcnow()
        unique: dict[str, DeliveryReport] = {}
        total = 0
        for report in reports:
            total += 1
            unique.setdefault(report.report_id, report)
        if not unique:
            return ApplyCounts()  # no transaction: the change counter (and the pages' caches) stay put
        r = report_log.c
        with self.atomic() as connection:
            # A ReportId already logged is skipped by the database: it stays a duplicate.
            _insert_many(connection, report_log, [_log_row(report, received_at) for report in unique.values()],
                         ignoring_conflicts=True)
            new = connection.scalar(select(func.count()).select_from(report_log).where(r.linked.is_(None))) or 0
            if not new:
                return ApplyCounts(duplicate=total)
            _apply_new_reports(connection)
            unknown = connection.execute(update(report_log).where(r.linked.is_(None)).values(linked=False)).rowcount
        return ApplyCounts(new=new, duplicate=total - new, unknown=unknown)

    def claim_pending_checks(
        self, *, submitted_before: datetime, limit: int = 10_000, now: datetime | None = None
    ) -> list[str]:
        """Gateway ids of pending messages due for a by-id report check; stamps them as checked.

        Due: submitted before ``submitted_before`` and not checked since then, so each
        stuck message is asked about at most once per interval and all get their turn.
        """
        now = _aware(now) or _utcnow()
        submitted_before = _aware(submitted_before)
        due = and_(
            messages.c.state == MessageState.PENDING.value,
            messages.c.message_id.is_not(None),
            messages.c.submitted_at < submitted_before,
            or_(messages.c.report_checked_at.is_(None), messages.c.report_checked_at < submitted_before),
        )
        with self._reading() as connection:
            rows = connection.execute(
                select(messages.c.id, messages.c.message_id).where(due).order_by(messages.c.id).limit(limit)
            ).all()
        if not rows:
            return []  # no write: the change counter (and the pages' caches) stay put
        # Two syncs may claim the same message: it is then asked about twice, which is harmless.
        with self.atomic() as connection:
            for chunk in _chunks([row.id for row in rows]):
                connection.execute(update(messages).where(messages.c.id.in_(chunk)).values(report_checked_at=now))
        return [row.message_id for row in rows]

    def message_states(self, message_ids: Iterable[str]) -> dict[str, MessageState]:
        """The state of each stored message among gateway ``message_ids`` (unknown ids are absent)."""
        found: dict[str, MessageState] = {}
        with self._reading() as connection:
            for chunk in _chunks(list(dict.fromkeys(message_ids))):
                rows = connection.execute(
                    select(messages.c.message_id, messages.c.state).where(messages.c.message_id.in_(chunk))
                )
                found.update((row.message_id, MessageState(row.state)) for row in rows)
        return found

    def unlinked_report_count(self) -> int:
        """Reports whose message is not in the store (sent by another system, or not recorded yet)."""
        with self._reading() as connection:
            return connection.scalar(select(func.count()).select_from(report_log).where(~report_log.c.linked)) or 0

    # -- history -----------------------------------------------------------------------------

    def query_messages(
        self,
        filters: MessageFilter = MessageFilter(),
        *,
        sort: SortKey = "submitted_at",
        descending: bool = True,
        after: Cursor | None = None,
        limit: int = 50,
    ) -> Page:
        """One page of messages; pass the returned ``next_cursor`` as ``after`` for the next.

        Keyset paging on (sort value, id): page 1,000 costs what page 1 costs.
        """
        column = _sort_column(sort)
        if limit < 1:
            raise ValidationError(f"A page holds at least one message, not {limit}.", field="limit")
        query = select(messages).where(*_conditions(filters))
        if after is not None:
            value, last_id = after
            if column is messages.c.id:
                query = query.where(column < last_id if descending else column > last_id)
            elif descending:
                # Written so that the index on (column, id) can serve the range.
                query = query.where(column <= value, or_(column < value, messages.c.id < last_id))
            else:
                query = query.where(column >= value, or_(column > value, messages.c.id > last_id))
        order = (column.desc(), messages.c.id.desc()) if descending else (column.asc(), messages.c.id.asc())
        if column is messages.c.id:
            order = order[1:]
        query = query.order_by(*order).limit(limit + 1)
        with self._reading() as connection:
            rows = [_message(row) for row in connection.execute(query)]
        if len(rows) <= limit:
            return Page(rows)
        rows = rows[:limit]
        last = rows[-1]
        return Page(rows, Cursor(getattr(last, sort) if sort != "state" else last.state.value, last.id))

    def count_messages(self, filters: MessageFilter = MessageFilter()) -> int:
        """How many messages match ``filters``."""
        query = select(func.count()).select_from(messages).where(*_conditions(filters))
        with self._reading() as connection:
            return connection.scalar(query) or 0

    def get_message(self, message_id: int) -> MessageDetail | None:
        """One message by its local id, with its reports from the log; None when absent."""
        with self._reading() as connection:
            row = connection.execute(select(messages).where(messages.c.id == message_id)).first()
            if row is None:
                return None
            reports = (
                connection.execute(
                    select(report_log)
                    .where(report_log.c.message_id == row.message_id)
                    .order_by(report_log.c.received_at, report_log.c.report_id)
                ).all()
                if row.message_id is not None
                else []
            )
        return MessageDetail(_message(row), tuple(_logged_report(r) for r in reports))

    def batch_messages(self, batch_id: int) -> list[StoredMessage]:
        """The messages recorded for one batch, in the order of its phones."""
        with self._reading() as connection:
            rows = connection.execute(select(messages).where(messages.c.batch_id == batch_id).order_by(messages.c.id))
            return [_message(row) for row in rows]

    # -- batches -----------------------------------------------------------------------------

    def create_batch(
        self,
        transaction_id: str,
        phones: Sequence[str],
        text: str,
        options: SendOptions = SendOptions(),
        *,
        job_id: int | None = None,
        seq: int | None = None,
        source_rows: Sequence[int] | None = None,
        segments: int | None = None,
        encoding: str | None = None,
        now: datetime | None = None,
    ) -> Batch:
        """Write a batch as ``pending`` before anything is sent; an existing one is returned.

        The same TransactionId for a different send (phones, text or options) raises
        ``ConflictError``: the gateway would refuse it (409), so nothing is written.
        """
        if not transaction_id or not transaction_id.strip():
            raise ValidationError("A batch needs a non-empty TransactionId.", field="transaction_id")
        if source_rows is not None and len(source_rows) != len(phones):
            raise ValueError(f"source_rows has {len(source_rows)} entries for {len(phones)} phones.")
        now = _aware(now) or _utcnow()
        row = {
            "job_id": job_id,
            "seq": seq,
            "transaction_id": transaction_id,
            "phones": json.dumps(list(phones)),
            "source_rows": json.dumps(list(source_rows)) if source_rows is not None else None,
            "text": text,
            "options": options.to_json(),
            "segments": segments,
            "encoding": encoding,
            "state": BatchState.PENDING.value,
            "created_at": now,
            "updated_at": now,
        }
        with self.atomic() as connection:
            connection.execute(_insert_ignoring_conflicts(connection, batches), [row])
            batch = _batch(connection.execute(select(batches).where(batches.c.transaction_id == transaction_id)).one())
        if (list(batch.phones), batch.text, batch.options) != (list(phones), text, options):
            raise ConflictError(
                f"TransactionId {transaction_id} was already used for a different send "
                f"(batch {batch.id}); use a new TransactionId for a new message.",
                field="transaction_id",
            )
        return batch

    def get_batch(self, batch_id: int) -> Batch | None:
        with self._reading() as connection:
            row = connection.execute(_BATCH_BY_ID, {"batch_id": batch_id}).first()
        return _batch(row) if row is not None else None

    def get_batch_by_transaction(self, transaction_id: str) -> Batch | None:
        with self._reading() as connection:
            row = connection.execute(select(batches).where(batches.c.transaction_id == transaction_id)).first()
        return _batch(row) if row is not None else None

    def claim_batch(
        self,
        batch_id: int,
        holder: str,
        *,
        lease_seconds: float = 300.0,
        states: Iterable[BatchState] = (BatchState.PENDING,),
        now: datetime | None = None,
    ) -> Batch | None:
        """Mark a batch ``sending`` for ``holder`` and commit; None when someone else has it.

        Claimable: a batch in one of ``states``, or one in ``sending`` whose lease expired
        (its sender died; it must be sent again with the same TransactionId).
        """
        now = _aware(now) or _utcnow()
        claimable = _claimable(now, states)
        with self.atomic() as connection:
            claimed = connection.execute(
                update(batches)
                .where(batches.c.id == batch_id, claimable)
                .values(
                    state=BatchState.SENDING.value,
                    attempts=batches.c.attempts + 1,
                    lease_holder=holder,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    updated_at=now,
                )
            ).rowcount
            if not claimed:
                return None
            return _batch(connection.execute(select(batches).where(batches.c.id == batch_id)).one())

    def claim_next_batch(
        self, job_id: int, holder: str, *, lease_seconds: float, now: datetime | None = None
    ) -> Claim | None:
        """Claim the job's first batch no one is sending (or whose sender's lease ran out); see ``claim_batches``."""
        claims = self.claim_batches(job_id, holder, 1, lease_seconds=lease_seconds, now=now)
        return claims[0] if claims else None

    def claim_batches(
        self, job_id: int, holder: str, limit: int, *, lease_seconds: float, now: datetime | None = None
    ) -> list[Claim]:
        """Claim up to ``limit`` of the job's batches no one is sending, in one transaction.

        Claimable: ``sending`` under a lease that ran out (these first: ``taken_over``, their
        sender stopped, maybe after the gateway accepted them), then ``pending``, each in
        ``seq`` order. The rows are read under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and
        marked in the same transaction, so any number of workers claiming at once each get
        different batches.
        """
        now = _aware(now) or _utcnow()
        with self._writing(counted=False) as connection:
            found = _claimable_of_job(connection, job_id, now, limit)
            if not found:
                return []  # nothing changed: the change counter (and the pages' caches) stay put
            ids = [row.id for row in found]
            connection.execute(_MARK_CLAIMED, {"ids": ids, "claim_holder": holder, "claimed_at": now,
                                               "claim_expires_at": now + timedelta(seconds=lease_seconds)})
            connection.execute(_COUNT_A_CHANGE)
            claimed = {row.id: _batch(row) for row in connection.execute(_BATCHES_BY_IDS, {"ids": ids})}
        return [Claim(claimed[row.id], taken_over=row.state == BatchState.SENDING.value) for row in found]

    def has_claimable_batch(self, job_id: int, *, now: datetime | None = None) -> bool:
        """Whether ``claim_next_batch`` would find a batch of the job now (a read, no claim)."""
        now = _aware(now) or _utcnow()
        with self._reading() as connection:
            return bool(_claimable_of_job(connection, job_id, now, 1, lock=False))

    def renew_leases(self, holder_prefix: str, *, lease_seconds: float, now: datetime | None = None) -> int:
        """Extend the leases of the batches held by holders starting with ``holder_prefix`` (a worker's id)."""
        now = _aware(now) or _utcnow()
        b = batches.c
        with self._writing(counted=False) as connection:
            return connection.execute(
                update(batches)
                .where(b.state == BatchState.SENDING.value, b.lease_holder.startswith(holder_prefix, autoescape=True))
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            ).rowcount

    # -- workers and shared budgets ----------------------------------------------------------

    def record_heartbeat(self, worker: WorkerInfo, *, doing: str, now: datetime | None = None,
                         forget_after: timedelta = timedelta(days=1)) -> None:
        """Say that ``worker`` is alive and what it does; rows silent for ``forget_after`` go."""
        now = _aware(now) or _utcnow()
        w = workers.c
        with self._writing(counted=False) as connection:
            if not connection.execute(update(workers).where(w.id == worker.id)
                                      .values(heartbeat_at=now, doing=doing)).rowcount:
                connection.execute(workers.insert().values(
                    id=worker.id, kind=worker.kind, host=worker.host, pid=worker.pid,
                    started_at=_aware(worker.started_at), heartbeat_at=now, doing=doing))
            connection.execute(sa.delete(workers).where(w.heartbeat_at < now - forget_after))

    def forget_worker(self, worker_id: str) -> None:
        """Remove a worker that stops cleanly (one that dies just falls silent)."""
        with self._writing(counted=False) as connection:
            connection.execute(sa.delete(workers).where(workers.c.id == worker_id))

    def list_workers(self) -> list[WorkerBeat]:
        """Every worker and dashboard runner heard from lately, the most recent heartbeat first."""
        with self._reading() as connection:
            rows = connection.execute(select(workers).order_by(workers.c.heartbeat_at.desc(), workers.c.id))
            return [WorkerBeat(WorkerInfo(row.id, row.kind, row.host, row.pid, row.started_at),
                               row.heartbeat_at, row.doing) for row in rows]

    def reserve_rate(self, name: str, spacing: float, *, now: float | None = None) -> float:
        """Book the next slot of a budget shared by every process; return the seconds to wait for it.

        The budget is a virtual clock in one row: a request starts at ``max(next_free, now)``
        and moves ``next_free`` on by ``spacing`` (its share of the rate), under the row's
        lock, so all workers together stay under the rate. Times are seconds since 1970 on
        the callers' clocks (kept in step by NTP on real machines).
        """
        now = time.time() if now is None else now
        r = rate_budgets.c
        with self._writing(counted=False) as connection:
            connection.execute(_insert_ignoring_conflicts(connection, rate_budgets), [{"name": name, "next_free": 0.0}])
            next_free = connection.execute(
                select(r.next_free).where(r.name == name).with_for_update()).scalar_one()
            start = max(next_free, now)
            connection.execute(update(rate_budgets).where(r.name == name).values(next_free=start + spacing))
        return start - now

    @contextmanager
    def exclusive(self, name: str, *, ttl_seconds: float) -> Iterator[bool]:
        """Hold the named lock over the block if no other process does: yields True, else False.

        PostgreSQL: a session advisory lock on a connection kept for the block, dropped by
        the server when the process dies. SQLite: a row in ``leases`` that expires after
        ``ttl_seconds``, so a process that dies holding it frees it after that long.
        """
        with self.engine.connect() as connection:
            taken = _try_session_lock(connection, name)
            if taken is not None:
                try:
                    yield taken
                finally:
                    if taken:
                        _release_session_lock(connection, name)
                return
        holder = uuid.uuid4().hex
        now = _utcnow()
        with self._writing(counted=False) as connection:
            connection.execute(sa.delete(leases).where(leases.c.name == name, leases.c.expires_at <= now))
            connection.execute(_insert_ignoring_conflicts(connection, leases),
                               [{"name": name, "holder": holder, "expires_at": now + timedelta(seconds=ttl_seconds)}])
            taken = connection.scalar(select(leases.c.holder).where(leases.c.name == name)) == holder
        try:
            yield taken
        finally:
            if taken:
                with self._writing(counted=False) as connection:
                    connection.execute(sa.delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def mark_batch_accepted(
        self,
        batch_id: int,
        holder: str,
        message_ids: Sequence[str],
        *,
        accepted_at: datetime | None,
        submitted_at: datetime,
    ) -> bool:
        """Record one pending message per phone with its gateway id and mark the batch accepted.

        One transaction; reports that came before the messages are applied now. False (and
        nothing written) when ``holder`` no longer holds the batch.
        """
        return self._finish_batch(batch_id, holder, BatchState.ACCEPTED, submitted_at=submitted_at,
                                  message_ids=message_ids, accepted_at=accepted_at)

    def mark_batch_rejected(self, batch_id: int, holder: str, error: str, *, submitted_at: datetime) -> bool:
        """The gateway refused the batch: record its messages as failed with the reason."""
        return self._finish_batch(batch_id, holder, BatchState.REJECTED, submitted_at=submitted_at, error=error)

    def mark_batch_uncertain(self, batch_id: int, holder: str, error: str, *, submitted_at: datetime) -> bool:
        """The batch may or may not have gone out: record its messages as uncertain."""
        return self._finish_batch(batch_id, holder, BatchState.UNCERTAIN, submitted_at=submitted_at, error=error)

    def finish_batches(self, finished: Sequence[FinishedBatch]) -> list[bool]:
        """Record how several claimed batches ended, in one transaction; as the ``mark_batch_*`` do each.

        Every batch gets its state and one message per phone (with its gateway id when
        accepted); reports that came before those messages are applied now. A batch its
        holder no longer holds is left alone: False for it. The ``Batch`` given is the one
        claimed, so nothing is read back.
        """
        held: list[bool] = []
        rows: list[dict[str, Any]] = []
        gateway_ids: list[str] = []
        now = _utcnow()
        with self.atomic() as connection:
            for end in finished:
                batch = end.batch
                if end.message_ids is not None and len(end.message_ids) != len(batch.phones):
                    raise ValueError(f"{len(end.message_ids)} message ids for {len(batch.phones)} phones "
                                     f"in batch {batch.id}.")
                held.append(bool(connection.execute(_FINISH_HELD_BATCH, {
                    "batch_id": batch.id, "holder": end.holder, "finished_state": end.state.value,
                    "finished_error": end.error, "finished_at": now}).rowcount))
                if not held[-1]:
                    continue
                if batch.attempts > 1:
                    # A batch sent again (after "uncertain") replaces the rows of its earlier attempt;
                    # at its first attempt it has none.
                    connection.execute(_DELETE_BATCH_MESSAGES, {"batch_id": batch.id})
                rows.extend(_message_rows(batch, _MESSAGE_STATE_OF_BATCH[end.state], submitted_at=end.submitted_at,
                                          message_ids=end.message_ids, accepted_at=end.accepted_at, error=end.error))
                gateway_ids.extend(end.message_ids or ())
            _insert_many(connection, messages, rows)
            _apply_waiting_reports(connection, gateway_ids)
        return held

    def release_batch(self, batch_id: int, holder: str, error: str, *, now: datetime | None = None) -> bool:
        """Put a batch that definitely did not go out back to ``pending`` (e.g. after a 429)."""
        now = _aware(now) or _utcnow()
        with self.atomic() as connection:
            return bool(
                connection.execute(
                    update(batches)
                    .where(*_held_by(batch_id, holder))
                    .values(state=BatchState.PENDING.value, last_error=error, lease_holder=None,
                            lease_expires_at=None, updated_at=now)
                ).rowcount
            )

    def _finish_batch(self, batch_id: int, holder: str, state: BatchState, *, submitted_at: datetime,
                      message_ids: Sequence[str] | None = None, accepted_at: datetime | None = None,
                      error: str | None = None) -> bool:
        with self.atomic():
            batch = self.get_batch(batch_id)
            if batch is None:
                return False
            [held] = self.finish_batches([FinishedBatch(batch, holder, state, submitted_at, message_ids,
                                                        accepted_at, error)])
        return held

    # -- jobs --------------------------------------------------------------------------------

    def create_job(
        self,
        name: str,
        *,
        created_by: str = "local",
        source_filename: str | None = None,
        settings: Mapping[str, Any] | None = None,
        total: int = 0,
        scheduled_at: datetime | None = None,
        send_window: Any = None,
        now: datetime | None = None,
    ) -> Job:
        """Write a new job in state ``queued``."""
        now = _aware(now) or _utcnow()
        with self.atomic() as connection:
            job_id = connection.execute(
                jobs.insert().values(
                    name=name, source_filename=source_filename, created_by=created_by,
                    created_at=now, updated_at=now, settings=json.dumps(dict(settings or {})),
                    state=JobState.QUEUED.value, total=total, scheduled_at=_aware(scheduled_at),
                    send_window=json.dumps(send_window) if send_window is not None else None,
                )
            ).inserted_primary_key[0]
            return _job(connection.execute(select(jobs).where(jobs.c.id == job_id)).one())

    def get_job(self, job_id: int) -> Job | None:
        with self._reading() as connection:
            row = connection.execute(_JOB_BY_ID, {"job_id": job_id}).first()
        return _job(row) if row is not None else None

    def set_job_state(self, job_id: int, state: JobState, *, error: str | None = None) -> None:
        with self.atomic() as connection:
            connection.execute(
                update(jobs).where(jobs.c.id == job_id)
                .values(state=JobState(state).value, last_error=error, updated_at=_utcnow())
            )

    # -- templates ---------------------------------------------------------------------------

    def save_template(self, name: str, text: str, *, replace: bool = False) -> SavedTemplate:
        """Save a message text under a unique name; an existing name needs ``replace=True``."""
        name = name.strip()
        if not name:
            raise ValidationError("Give the template a name.", field="name")
        if not text.strip():
            raise ValidationError(f"Template {name!r} has no text.", field="text")
        now = _utcnow()
        with self.atomic() as connection:
            existing = connection.execute(select(templates.c.id).where(templates.c.name == name)).first()
            if existing is None:
                connection.execute(templates.insert().values(name=name, text=text, created_at=now, updated_at=now))
            elif replace:
                connection.execute(update(templates).where(templates.c.id == existing.id).values(text=text, updated_at=now))
            else:
                raise ValidationError(
                    f"A template named {name!r} already exists; choose another name or replace it.", field="name"
                )
            return _template(connection.execute(select(templates).where(templates.c.name == name)).one())

    def get_template(self, name: str) -> SavedTemplate | None:
        with self._reading() as connection:
            row = connection.execute(select(templates).where(templates.c.name == name.strip())).first()
        return _template(row) if row is not None else None

    def list_templates(self) -> list[SavedTemplate]:
        """All templates by name."""
        with self._reading() as connection:
            return [_template(row) for row in connection.execute(select(templates).order_by(templates.c.name))]

    def delete_template(self, name: str) -> bool:
        """Delete a template; False when there was none of that name."""
        with self.atomic() as connection:
            return bool(connection.execute(sa.delete(templates).where(templates.c.name == name.strip())).rowcount)

    # -- blocklist ---------------------------------------------------------------------------

    def block(self, phones: Iterable[str], *, reason: str = "", added_by: str = "local") -> int:
        """Add E.164 numbers to the blocklist; return how many were not there already."""
        now = _utcnow()
        rows = [
            {"phone": _e164(phone), "reason": reason, "added_at": now, "added_by": added_by}
            for phone in dict.fromkeys(phones)
        ]
        if not rows:
            return 0
        with self.atomic() as connection:
            before = connection.scalar(select(func.count()).select_from(blocklist))
            connection.execute(_insert_ignoring_conflicts(connection, blocklist), rows)
            return connection.scalar(select(func.count()).select_from(blocklist)) - before

    def unblock(self, phones: Iterable[str]) -> int:
        """Remove numbers from the blocklist; return how many were removed."""
        removed = 0
        with self.atomic() as connection:
            for chunk in _chunks(list(dict.fromkeys(phones))):
                removed += connection.execute(sa.delete(blocklist).where(blocklist.c.phone.in_(chunk))).rowcount
        return removed

    def list_blocked(self) -> list[BlockedPhone]:
        """The whole blocklist, newest first."""
        with self._reading() as connection:
            rows = connection.execute(select(blocklist).order_by(blocklist.c.added_at.desc(), blocklist.c.phone))
            return [BlockedPhone(row.phone, row.reason, row.added_at, row.added_by) for row in rows]

    def blocked(self, phones: Iterable[str]) -> set[str]:
        """Those of ``phones`` that are on the blocklist."""
        with self._reading() as connection:
            return _existing(connection, blocklist.c.phone, phones)


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"A naive datetime ({value.isoformat()}) is ambiguous; give it a time zone.")
    return value


def _chunks(items: Sequence[_T], size: int = _IN_CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(connection: Connection, column: Column[Any], values: Iterable[str]) -> set[str]:
    """Which of ``values`` are present in ``column``."""
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(values))):
        found.update(connection.scalars(select(column).where(column.in_(chunk))))
    return found


def _e164(phone: str) -> str:
    text = phone.strip() if isinstance(phone, str) else ""
    if not (text.startswith("+") and text[1:].isdigit() and 8 <= len(text) <= 16):
        raise InvalidPhoneNumber(phone, "not in E.164 form (+ and 7 to 15 digits); normalise it first")
    return text


def _claimable(now: datetime, states: Iterable[BatchState] = (BatchState.PENDING,)) -> Any:
    """Batches in one of ``states``, or ``sending`` under a lease that ran out (its sender stopped)."""
    b = batches.c
    return or_(
        b.state.in_([BatchState(s).value for s in states]),
        and_(b.state == BatchState.SENDING.value, or_(b.lease_expires_at.is_(None), b.lease_expires_at <= now)),
    )


def _held_by(batch_id: int, holder: str) -> tuple[Any, ...]:
    return (batches.c.id == batch_id, batches.c.state == BatchState.SENDING.value, batches.c.lease_holder == holder)


# -- Statements of the sending path, built once ---------------------------------------------------
# Building a statement costs SQLAlchemy more than running one; these run for every batch or
# request of a bulk job, so they are built here once and run with their values as parameters.

_COUNT_A_CHANGE = update(meta).where(meta.c.key == "changes").values(value=meta.c.value + 1)
_JOB_BY_ID = select(jobs).where(jobs.c.id == sa.bindparam("job_id"))
_BATCH_BY_ID = select(batches).where(batches.c.id == sa.bindparam("batch_id"))
_BATCHES_BY_IDS = select(batches).where(batches.c.id.in_(sa.bindparam("ids", expanding=True)))
# A job's claimable batches, each kind straight from ix_batches_job_state_seq (an OR of the
# two would walk every batch the job has sent).
_EXPIRED_OF_JOB = (
    select(batches.c.id, batches.c.state)
    .where(batches.c.job_id == sa.bindparam("job_id"), batches.c.state == BatchState.SENDING.value,
           or_(batches.c.lease_expires_at.is_(None),
               batches.c.lease_expires_at <= sa.bindparam("now", type_=UtcDateTime)))
    .order_by(batches.c.seq)
    .limit(sa.bindparam("limit"))
)
_PENDING_OF_JOB = (
    select(batches.c.id, batches.c.state)
    .where(batches.c.job_id == sa.bindparam("job_id"), batches.c.state == BatchState.PENDING.value)
    .order_by(batches.c.seq)
    .limit(sa.bindparam("limit"))
)
_CLAIMING = {False: (_EXPIRED_OF_JOB, _PENDING_OF_JOB),
             True: (_claim_lock(_EXPIRED_OF_JOB), _claim_lock(_PENDING_OF_JOB))}


def _claimable_of_job(connection: Connection, job_id: int, now: datetime, limit: int, *,
                      lock: bool = True) -> list[sa.Row[Any]]:
    """Up to ``limit`` claimable batches of a job (id, state): expired leases first, then pending."""
    expired, pending = _CLAIMING[lock]
    found = connection.execute(expired, {"job_id": job_id, "now": now, "limit": limit}).all()
    if len(found) < limit:
        found += connection.execute(pending, {"job_id": job_id, "limit": limit - len(found)}).all()
    return found
_MARK_CLAIMED = (
    update(batches).where(batches.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(state=BatchState.SENDING.value, attempts=batches.c.attempts + 1, lease_holder=sa.bindparam("claim_holder"),
            lease_expires_at=sa.bindparam("claim_expires_at", type_=UtcDateTime),
            updated_at=sa.bindparam("claimed_at", type_=UtcDateTime))
)
_FINISH_HELD_BATCH = (
    update(batches)
    .where(batches.c.id == sa.bindparam("batch_id"), batches.c.state == BatchState.SENDING.value,
           batches.c.lease_holder == sa.bindparam("holder"))
    .values(state=sa.bindparam("finished_state"), last_error=sa.bindparam("finished_error"), lease_holder=None,
            lease_expires_at=None, updated_at=sa.bindparam("finished_at", type_=UtcDateTime))
)
_DELETE_BATCH_MESSAGES = sa.delete(messages).where(messages.c.batch_id == sa.bindparam("batch_id"))
_WAITING_REPORTS = select(report_log.c.message_id).where(
    report_log.c.linked == sa.false(), report_log.c.message_id.in_(sa.bindparam("ids", expanding=True)))
_A_WAITING_REPORT = _WAITING_REPORTS.limit(1)


def _sort_column(sort: str) -> Column[Any]:
    try:
        return _SORT_COLUMNS[sort]
    except KeyError:
        raise ValidationError(
            f"Cannot sort messages by {sort!r}; use one of {', '.join(_SORT_COLUMNS)}.", field="sort"
        ) from None


def _conditions(filters: MessageFilter) -> list[Any]:
    m = messages.c
    conditions: list[Any] = []
    if filters.since is not None:
        conditions.append(m.submitted_at >= _aware(filters.since))
    if filters.until is not None:
        conditions.append(m.submitted_at < _aware(filters.until))
    if filters.phone.strip():
        phone = filters.phone.strip()
        conditions.append(
            m.phone.startswith(phone, autoescape=True)
            if filters.phone_match == "prefix"
            else m.phone.contains(phone, autoescape=True)
        )
    if filters.text.strip():
        conditions.append(m.text.icontains(filters.text.strip(), autoescape=True))
    if filters.states:
        conditions.append(m.state.in_([MessageState(s).value for s in filters.states]))
    exact = {
        m.sender: filters.sender,
        m.cost_center: filters.cost_center,
        m.priority: filters.priority,
        m.flash: filters.flash,
        m.job_id: filters.job_id,
        m.batch_id: filters.batch_id,
        m.channel: Channel(filters.channel).value if filters.channel is not None else None,
        m.sent_by: filters.sent_by,
    }
    conditions.extend(column == value for column, value in exact.items() if value is not None)
    return conditions


# apply_reports' rules as an ORDER BY: final first, then the later DeliveryTime, then the greater ReportId.
_candidate = report_log.alias("candidate")
_BEST_REPORT_ID = (
    select(_candidate.c.report_id)
    .where(_candidate.c.message_id == messages.c.message_id)
    .order_by(
        sa.case((_candidate.c.status.in_([int(s) for s in DeliveryStatus if s.is_final]), 1), else_=0).desc(),
        func.coalesce(_candidate.c.delivery_time, sa.literal(_EPOCH, UtcDateTime)).desc(),
        _candidate.c.report_id.desc(),
    )
    .limit(1)
    .scalar_subquery()
)


def _of_current_report(column: Column[Any]) -> Any:
    """The value of ``column`` in the report a message shows (``messages.report_id``)."""
    return select(column).where(report_log.c.report_id == messages.c.report_id).scalar_subquery()


def _state_of(status: Any) -> Any:
    """The message state a report status means, in SQL (``MessageState.from_status``)."""
    return sa.case(
        {int(s): MessageState.from_status(s).value for s in DeliveryStatus if s.is_final},
        value=status,
        else_=MessageState.UNKNOWN.value,
    )


_STATE_OF_CURRENT_REPORT = _of_current_report(_state_of(report_log.c.status))


def _latency_columns(delivered_at: Any) -> dict[str, Any]:
    """The messages' latency columns for a delivery time (an expression), from their accepted_at."""
    milliseconds = milliseconds_between(delivered_at, messages.c.accepted_at)
    return {"latency_ms": milliseconds, "latency_bucket": latency_bucket_of(milliseconds)}


_LATENCY_COLUMNS = _latency_columns(messages.c.delivered_at)
_other_report = report_log.alias("other_report")
# A report whose message has no other report in the log (this one is its best by itself).
_ONLY_REPORT_OF_ITS_MESSAGE = (
    select(func.count()).select_from(_other_report)
    .where(_other_report.c.message_id == report_log.c.message_id)
    .scalar_subquery()
) == 1


def _apply_new_reports(connection: Connection) -> None:
    """Apply the reports logged in this transaction (``linked`` NULL) to their messages.

    A message with several logged reports goes through the general ``_apply_logged_reports``;
    the common case, a message whose one logged report is new, simply shows it, all in
    one join. Reports whose message is not stored stay NULL for the caller.
    """
    m, r = messages.c, report_log.c
    if not _updates_from_joins(connection):
        _apply_logged_reports(connection, select(r.message_id).where(r.linked.is_(None)))
        return
    several = connection.execute(
        select(r.message_id).where(r.linked.is_(None), sa.not_(_ONLY_REPORT_OF_ITS_MESSAGE)).distinct()
    ).scalars().all()
    for chunk in _chunks(several):
        _apply_logged_reports(connection, chunk)
    connection.execute(
        update(messages)
        .where(m.message_id == r.message_id, r.linked.is_(None), _ONLY_REPORT_OF_ITS_MESSAGE)
        .values(report_id=r.report_id, state=_state_of(r.status), status_code=r.status,
                delivered_at=r.delivery_time, **_latency_columns(r.delivery_time))
    )
    connection.execute(
        update(report_log)
        .where(r.linked.is_(None), sa.exists().where(m.message_id == r.message_id))
        .values(linked=True)
    )


def _apply_waiting_reports(connection: Connection, message_ids: Sequence[str]) -> None:
    """Apply the reports that came before their messages (logged, not linked) to these new messages.

    Usually there are none: one indexed look-up per chunk of ids, and nothing else.
    """
    for chunk in _chunks(message_ids):  # none: no query
        if connection.execute(_A_WAITING_REPORT, {"ids": list(chunk)}).first() is not None:
            _apply_logged_reports(connection, connection.execute(_WAITING_REPORTS, {"ids": list(chunk)}).scalars().all())


def _apply_logged_reports(connection: Connection, scope: sa.Select[Any] | Sequence[str]) -> None:
    """Give the messages whose ids ``scope`` selects (or lists) the best of their logged reports.

    Set-based, so the database picks each winner: a report applied twice, late or out of
    order ends where one applied once, in order, would. Marks the reports of those
    messages linked.
    """
    m, r = messages.c, report_log.c
    in_scope = m.message_id.in_(scope)
    connection.execute(update(messages).where(in_scope).values(report_id=_BEST_REPORT_ID))
    connection.execute(
        update(messages)
        .where(in_scope, m.report_id.is_not(None))
        .values(
            state=_STATE_OF_CURRENT_REPORT,
            status_code=_of_current_report(r.status),
            delivered_at=_of_current_report(r.delivery_time),
        )
    )
    # A second statement: SET reads the row as it was, so the new delivered_at is seen only now.
    connection.execute(update(messages).where(in_scope, m.report_id.is_not(None)).values(**_LATENCY_COLUMNS))
    known = select(m.message_id).where(in_scope)
    connection.execute(
        update(report_log).where(or_(r.linked.is_(None), r.linked.is_(False)), r.message_id.in_(known)).values(linked=True)
    )


# One encoder for every report's raw JSON: json.dumps with options builds a new one per call.
_RAW_JSON = json.JSONEncoder(default=str, ensure_ascii=False)


def _log_row(report: DeliveryReport, received_at: datetime) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "message_id": report.message_id,
        "phone": report.phone or None,
        "status": int(report.status),
        "delivery_time": report.delivery_time,
        "received_at": received_at,
        "raw": _RAW_JSON.encode(report.raw) if report.raw is not None else None,
        "linked": None,  # "not looked at yet"; apply_reports sets it before it commits
    }


def _message_rows(
    batch: Batch,
    state: MessageState,
    *,
    submitted_at: datetime,
    message_ids: Sequence[str] | None,
    accepted_at: datetime | None,
    error: str | None,
) -> list[dict[str, Any]]:
    """One row per phone of the batch, derived columns included (no per-row default runs)."""
    options = batch.options
    common = {
        "text": batch.text,
        "sender": options.sender,
        "priority": options.priority,
        "flash": options.flash,
        "cost_center": options.cost_center,
        "transaction_id": batch.transaction_id,
        "channel": options.channel.value,
        "job_id": batch.job_id,
        "batch_id": batch.id,
        "segments": batch.segments,
        "encoding": batch.encoding,
        "sent_by": options.sent_by,
        "submitted_at": submitted_at,
        "accepted_at": accepted_at,
        "state": state.value,
        "error": error,
        "submitted_hour": hour_number(submitted_at),
        "latency_ms": None,  # no delivery yet: a report sets these with delivered_at
        "latency_bucket": None,
    }
    ids = message_ids if message_ids is not None else [None] * len(batch.phones)
    rows = batch.source_rows if batch.source_rows is not None else [None] * len(batch.phones)
    return [{**common, "message_id": message_id, "phone": phone, "source_row": row}
            for message_id, phone, row in zip(ids, batch.phones, rows)]


_DERIVED = ("submitted_hour", "latency_ms", "latency_bucket")  # the analytics' columns, not a message's fields


def _message(row: sa.Row[Any]) -> StoredMessage:
    data = {key: value for key, value in row._asdict().items() if key not in _DERIVED}
    data["channel"] = Channel(data["channel"])
    data["state"] = MessageState(data["state"])
    return StoredMessage(**data)


def _logged_report(row: sa.Row[Any]) -> LoggedReport:
    return LoggedReport(
        report_id=row.report_id,
        message_id=row.message_id,
        phone=row.phone,
        status=DeliveryStatus(row.status),
        delivery_time=row.delivery_time,
        received_at=row.received_at,
        raw=json.loads(row.raw) if row.raw is not None else None,
        linked=bool(row.linked),
    )


def _batch(row: sa.Row[Any]) -> Batch:
    return Batch(
        id=row.id,
        job_id=row.job_id,
        seq=row.seq,
        transaction_id=row.transaction_id,
        phones=tuple(json.loads(row.phones)),
        source_rows=tuple(json.loads(row.source_rows)) if row.source_rows is not None else None,
        text=row.text,
        options=SendOptions.from_json(row.options),
        segments=row.segments,
        encoding=row.encoding,
        state=BatchState(row.state),
        attempts=row.attempts,
        last_error=row.last_error,
        lease_holder=row.lease_holder,
        lease_expires_at=row.lease_expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _job(row: sa.Row[Any]) -> Job:
    data = row._asdict()
    data["settings"] = json.loads(data["settings"] or "{}")
    data["state"] = JobState(data["state"])
    data["send_window"] = json.loads(data["send_window"]) if data["send_window"] is not None else None
    return Job(**data)


def _template(row: sa.Row[Any]) -> SavedTemplate:
    return SavedTemplate(row.id, row.name, row.text, row.created_at, row.updated_at)
