"""The tables, their columns and indexes (SQLAlchemy Core ``Table`` objects).
"""

from __future__ import annotations

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
)

from .dialect import _ID, UtcDateTime
from .measures import _default_latency_bucket, _default_latency_ms, _default_submitted_hour

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
