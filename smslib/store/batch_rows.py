"""Batches of a job: created pending, claimed under a lease, finished exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    select,
    update,
)

from ..core.errors import ConflictError, ValidationError
from .base import _COUNT_A_CHANGE
from .claims import (
    _BATCH_BY_ID,
    _BATCHES_BY_IDS,
    _DELETE_BATCH_MESSAGES,
    _FINISH_HELD_BATCH,
    _MARK_CLAIMED,
    _claimable,
    _claimable_of_job,
    _held_by,
)
from .dialect import _insert_ignoring_conflicts, _insert_many
from .report_states import _apply_waiting_reports, _message_rows
from .schema import batches, messages
from .values import (
    _MESSAGE_STATE_OF_BATCH,
    Batch,
    BatchState,
    Claim,
    FinishedBatch,
    SendOptions,
    _aware,
    _batch,
    _utcnow,
)


class BatchesMixin:
    """The ``Store``'s batches of a job."""

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
