"""Schema versions: a new database is built from ``schema`` and stamped; an old one migrates.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.engine import Connection

from ..core.errors import ConfigError
from .dialect import _lock_schema, epoch_hour
from .report_states import _LATENCY_COLUMNS
from .schema import batches, leases, messages, meta, metadata, rate_budgets, workers
from .values import _DERIVED

# -- Migrations -------------------------------------------------------------------------------
# A new database is built from the tables in ``schema`` and stamped with the latest version.
# An existing one runs, in order, every migration after its recorded version:
# MIGRATIONS[0] takes version 1 to 2, MIGRATIONS[1] takes 2 to 3, and so on. To change
# the schema, change the tables in ``schema`` AND append a migration doing the same to an old
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
