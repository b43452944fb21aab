"""Bulk jobs: created with their settings, read, moved between states.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    select,
    update,
)

from .schema import jobs
from .values import Job, JobState, _aware, _job, _utcnow

_JOB_BY_ID = select(jobs).where(jobs.c.id == sa.bindparam("job_id"))


class JobsMixin:
    """The ``Store``'s bulk jobs."""

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
