"""The store: the database of messages, reports, jobs, batches and lists, in SQLAlchemy Core.

One ``Store`` serves a whole process (the app keeps it in ``st.cache_resource``) and is safe
to share between threads: every write runs in one transaction under the Store's lock
(``atomic()``), every read takes its own pooled connection. SQLite is the default;
PostgreSQL works with the same code. Times go in and come out as aware UTC datetimes.

Modules, one concern each (a module imports only those above it in this list):

- ``measures``: the analytics' stored measures (hour numbers, latency buckets)
- ``dialect``: everything that depends on the engine (SQLite pragmas and WAL, SQL functions
  compiled per dialect, bulk inserts, row claims, advisory locks)
- ``schema``: the tables; ``values``: the states and records the store hands out
- ``report_states``: how logged reports become message states; ``migrations``: schema versions
- ``base``: opening, transactions; ``claims``: the SQL of claiming batches
- the ``Store``'s methods by concern: ``message_rows`` (messages, reports, history),
  ``batch_rows`` (batches, leases), ``coordination`` (workers, rate budget, named locks),
  ``job_rows`` (jobs), ``lists`` (templates, blocklist)

May import: ``smslib.core`` and SQLAlchemy. Never streamlit, the gateway or the services.
Callers import from ``smslib.store`` (this door), not from its modules.
"""

from __future__ import annotations

from .base import _StoreBase, database_problem
from .batch_rows import BatchesMixin
from .coordination import CoordinationMixin
from .dialect import UTC, UtcDateTime, epoch_hour, latency_bucket_of, milliseconds_between
from .job_rows import JobsMixin
from .lists import ListsMixin
from .measures import (
    LATENCY_RESOLUTION,
    SHORTEST_LATENCY_MS,
    hour_number,
    latency_bucket,
    latency_milliseconds,
)
from .message_rows import MessagesMixin, _conditions
from .migrations import MIGRATIONS, Migration, _add_analytics_columns, schema_version
from .schema import (
    batches,
    blocklist,
    jobs,
    leases,
    messages,
    meta,
    metadata,
    rate_budgets,
    report_log,
    templates,
    workers,
)
from .values import (
    ApplyCounts,
    Batch,
    BatchState,
    BlockedPhone,
    Claim,
    Cursor,
    FinishedBatch,
    Job,
    JobState,
    LoggedReport,
    MessageDetail,
    MessageFilter,
    Page,
    SavedTemplate,
    SendOptions,
    SortKey,
    StoredMessage,
    WorkerBeat,
    WorkerInfo,
)


class Store(MessagesMixin, BatchesMixin, CoordinationMixin, JobsMixin, ListsMixin, _StoreBase):
    """The message store of one database URL; see the package's docstring."""


__all__ = [
    "ApplyCounts", "Batch", "BatchState", "BlockedPhone", "Claim", "Cursor", "FinishedBatch", "Job", "JobState",
    "LATENCY_RESOLUTION", "LoggedReport", "MIGRATIONS", "MessageDetail", "MessageFilter", "Migration", "Page",
    "SHORTEST_LATENCY_MS", "SavedTemplate", "SendOptions", "SortKey", "Store", "StoredMessage", "UTC",
    "UtcDateTime", "WorkerBeat", "WorkerInfo", "batches", "blocklist", "database_problem", "epoch_hour",
    "hour_number", "jobs", "latency_bucket", "latency_bucket_of", "latency_milliseconds", "leases", "messages",
    "meta", "metadata", "milliseconds_between", "rate_budgets", "report_log", "schema_version", "templates",
    "workers", "_add_analytics_columns", "_conditions",
]
