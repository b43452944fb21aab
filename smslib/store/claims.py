"""The SQL behind claiming batches: what is claimable, by whom, and finishing a held batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from .dialect import UtcDateTime, _claim_lock
from .schema import batches, messages
from .values import BatchState


def _claimable(now: datetime, states: Iterable[BatchState] = (BatchState.PENDING,)) -> Any:
    """Batches in one of ``states``, or ``sending`` under a lease that ran out (its sender stopped)."""
    b = batches.c
    return or_(
        b.state.in_([BatchState(s).value for s in states]),
        and_(b.state == BatchState.SENDING.value, or_(b.lease_expires_at.is_(None), b.lease_expires_at <= now)),
    )


def _held_by(batch_id: int, holder: str) -> tuple[Any, ...]:
    return (batches.c.id == batch_id, batches.c.state == BatchState.SENDING.value, batches.c.lease_holder == holder)


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
