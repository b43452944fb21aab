"""What several processes share: worker heartbeats, the account's rate budget, named locks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import (
    select,
    update,
)

from .dialect import _insert_ignoring_conflicts, _release_session_lock, _try_session_lock
from .schema import leases, rate_budgets, workers
from .values import WorkerBeat, WorkerInfo, _aware, _utcnow


class CoordinationMixin:
    """The ``Store``'s what several processes share."""

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
