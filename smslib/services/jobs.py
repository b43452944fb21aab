"""Bulk jobs: a plan (``smslib.services.planning``) → batches in the store → sends.

- ``create_job(store, plan, ...)`` writes the job and ALL its batches (``pending``, each
  with a deterministic TransactionId) in one transaction, before anything is sent;
- ``JobRunner`` (the runner's "jobs" task, or a worker process) then sends them, several
  at once, with ``sending.call_gateway``/``record_answers``, which hold the exactly-once rules.

Job states: queued → running ⇄ paused → done | cancelled | failed. Progress is always
read from the store (``job_progress``), so any process, page or browser sees the same.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, time as dtime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from smslib.core.config import Settings
from smslib.core.errors import AuthenticationError, ConfigError, ValidationError
from smslib.core.models import MessageState
from .planning import PlannedBatch, fingerprint
from .sending import GatewayAnswer, SendOutcome, call_gateway, lease_seconds, record_answers, send_batch
from smslib.store import Batch, BatchState, Claim, Job, JobState, Store, batches, jobs, messages

log = logging.getLogger(__name__)
_OPEN = (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.FAILED)


# -- send window ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SendWindow:
    """A daily window in a time zone (e.g. 08:00–20:00 Europe/Warsaw) outside which a job waits."""

    start: dtime
    end: dtime
    timezone: str = "Europe/Warsaw"

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M"), "timezone": self.timezone}

    @classmethod
    def from_json(cls, data: Any) -> SendWindow | None:
        if not data:
            return None
        return cls(dtime.fromisoformat(data["start"]), dtime.fromisoformat(data["end"]), data.get("timezone", "Europe/Warsaw"))

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # a window across midnight

    def next_open(self, now: datetime) -> datetime:
        """The next moment (UTC) the window opens; ``now`` when it is open."""
        if self.is_open(now):
            return now
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        candidate = datetime.combine(local.date(), self.start, tzinfo=zone)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), self.start, tzinfo=zone)
        return candidate.astimezone(timezone.utc)


# -- jobs in the store ----------------------------------------------------------------------


def transaction_id(nonce: str, job_id: int, seq: int) -> str:
    """The TransactionId of a job's batch: stable across restarts, unique across installations."""
    return f"job{job_id}-{nonce}-{seq}"


def create_job(
    store: Store,
    planned: Sequence[PlannedBatch],
    *,
    name: str,
    source_filename: str | None = None,
    created_by: str = "local",
    scheduled_at: datetime | None = None,
    send_window: SendWindow | None = None,
    settings: dict[str, Any] | None = None,
) -> Job:
    """Write the job (``queued``) and every batch (``pending``) in one transaction; nothing is sent."""
    if not planned:
        raise ValidationError("There is nothing to send: no valid row.", field="rows")
    nonce = secrets.token_hex(4)
    now = datetime.now(timezone.utc)
    job_settings = {**(settings or {}), "nonce": nonce, "fingerprint": fingerprint(planned),
                    "batches": len(planned)}
    with store.atomic() as connection:
        job = store.create_job(
            name, created_by=created_by, source_filename=source_filename, settings=job_settings,
            total=sum(len(b.phones) for b in planned), scheduled_at=scheduled_at,
            send_window=send_window.to_json() if send_window else None)
        connection.execute(batches.insert(), [
            {"job_id": job.id, "seq": b.seq, "transaction_id": transaction_id(nonce, job.id, b.seq),
             "phones": json.dumps(list(b.phones)), "source_rows": json.dumps(list(b.source_rows)),
             "text": b.text, "options": b.options.to_json(), "segments": b.segments, "encoding": b.encoding,
             "state": BatchState.PENDING.value, "created_at": now, "updated_at": now}
            for b in planned
        ])
    return job


def find_open_job(store: Store, fingerprint_: str) -> Job | None:
    """An unfinished job with this plan (to resume it instead of sending everything again)."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(jobs.c.id).where(jobs.c.state.in_([s.value for s in _OPEN])).order_by(jobs.c.id.desc())
        ).all()
    for row in rows:
        job = store.get_job(row.id)
        if job is not None and job.settings.get("fingerprint") == fingerprint_:
            return job
    return None


def list_jobs(store: Store, limit: int = 50) -> list[Job]:
    """The most recent jobs, newest first."""
    with store.engine.connect() as connection:
        ids = connection.execute(sa.select(jobs.c.id).order_by(jobs.c.id.desc()).limit(limit)).scalars().all()
    return [job for job in (store.get_job(i) for i in ids) if job is not None]


def pause(store: Store, job_id: int) -> None:
    _transition(store, job_id, (JobState.QUEUED, JobState.RUNNING), JobState.PAUSED)


def resume(store: Store, job_id: int) -> None:
    _transition(store, job_id, (JobState.PAUSED, JobState.FAILED), JobState.QUEUED)


def cancel(store: Store, job_id: int) -> None:
    _transition(store, job_id, _OPEN, JobState.CANCELLED)


def _transition(store: Store, job_id: int, sources: Iterable[JobState], target: JobState) -> None:
    with store.atomic() as connection:
        changed = connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id, jobs.c.state.in_([s.value for s in sources]))
            .values(state=target.value, last_error=None, updated_at=datetime.now(timezone.utc))
        ).rowcount
    if not changed:
        job = store.get_job(job_id)
        where = f"is {job.state.value}" if job else "does not exist"
        raise ValidationError(f"Job {job_id} {where}; it cannot be {target.value} now.", field="state")


# -- progress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobProgress:
    job: Job
    sent: int               # accepted by the gateway
    failed: int             # refused (nothing went out)
    uncertain: int          # may have gone out; a person decides
    waiting: int            # not sent yet
    delivery: dict[str, int] = field(default_factory=dict)   # message state -> count
    batches: dict[str, int] = field(default_factory=dict)    # batch state -> count
    rate: float | None = None          # SMS accepted per second so far
    eta_seconds: float | None = None
    waiting_for: str | None = None     # why the job is not sending now, for people

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.uncertain

    @property
    def fraction(self) -> float:
        return self.done / self.job.total if self.job.total else 1.0


def job_progress(store: Store, job_id: int, *, now: datetime | None = None) -> JobProgress:
    """The job's counters, from the store."""
    now = now or datetime.now(timezone.utc)
    job = store.get_job(job_id)
    if job is None:
        raise ValidationError(f"There is no job {job_id}.", field="job")
    with store.engine.connect() as connection:
        delivery = dict(connection.execute(
            sa.select(messages.c.state, sa.func.count()).where(messages.c.job_id == job_id).group_by(messages.c.state)
        ).all())
        batch_states = dict(connection.execute(
            sa.select(batches.c.state, sa.func.count()).where(batches.c.job_id == job_id).group_by(batches.c.state)
        ).all())
        first, last = connection.execute(
            sa.select(sa.func.min(messages.c.submitted_at), sa.func.max(messages.c.submitted_at))
            .where(messages.c.job_id == job_id, messages.c.state != MessageState.FAILED.value)
        ).one()
    failed = delivery.get(MessageState.FAILED.value, 0)
    uncertain = delivery.get(MessageState.UNCERTAIN.value, 0)
    sent = sum(delivery.values()) - failed - uncertain
    waiting = max(0, job.total - sent - failed - uncertain)
    rate = eta = None
    if first is not None and sent:
        elapsed = max((_aware(last) - _aware(first)).total_seconds(), 1.0)
        rate = sent / elapsed
        eta = waiting / rate if waiting else 0.0
    return JobProgress(job, sent, failed, uncertain, waiting, delivery, batch_states, rate, eta,
                       _waiting_for(job, now) if waiting else None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _waiting_for(job: Job, now: datetime) -> str | None:
    if job.state not in (JobState.QUEUED, JobState.RUNNING):
        return None
    if job.scheduled_at is not None and _aware(job.scheduled_at) > now:
        return f"scheduled for {_aware(job.scheduled_at).isoformat(timespec='minutes')}"
    window = SendWindow.from_json(job.send_window)
    if window is not None and not window.is_open(now):
        return (f"outside the sending window {window.start:%H:%M}–{window.end:%H:%M} {window.timezone}; "
                f"it opens at {window.next_open(now).isoformat(timespec='minutes')}")
    return None


def job_rows(store: Store, job_id: int) -> pd.DataFrame:
    """Per recipient of a job: file row, number, text, message id, state, error (sent rows only)."""
    with store.engine.connect() as connection:
        result = connection.execute(
            sa.select(messages.c.source_row.label("row"), messages.c.phone, messages.c.text,
                      messages.c.message_id, messages.c.state, messages.c.error, messages.c.delivered_at)
            .where(messages.c.job_id == job_id).order_by(messages.c.source_row, messages.c.id)
        )
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def uncertain_batches(store: Store, job_id: int) -> list[Batch]:
    """The job's batches that may or may not have gone out."""
    with store.engine.connect() as connection:
        ids = connection.execute(
            sa.select(batches.c.id).where(batches.c.job_id == job_id, batches.c.state == BatchState.UNCERTAIN.value)
            .order_by(batches.c.seq)).scalars().all()
    return [b for b in (store.get_batch(i) for i in ids) if b is not None]


def mark_uncertain_as_sent(store: Store, batch_id: int) -> bool:
    """A person checked that an uncertain batch went out: accepted, its messages ``unknown``."""
    now = datetime.now(timezone.utc)
    with store.atomic() as connection:
        changed = connection.execute(
            sa.update(batches).where(batches.c.id == batch_id, batches.c.state == BatchState.UNCERTAIN.value)
            .values(state=BatchState.ACCEPTED.value, last_error="marked as sent by a person", updated_at=now)
        ).rowcount
        if changed:
            connection.execute(
                sa.update(messages).where(messages.c.batch_id == batch_id)
                .values(state=MessageState.UNKNOWN.value, error="marked as sent by a person"))
    return bool(changed)


def resend_uncertain(client: Any, store: Store, batch_id: int, *, phone_format: str = "digits") -> SendOutcome:
    """Send an uncertain batch again with its own TransactionId (safe on a de-duplicating gateway)."""
    batch = store.get_batch(batch_id)
    if batch is None:
        raise ValidationError(f"There is no batch {batch_id}.", field="batch")
    return send_batch(client, store, batch, phone_format=phone_format, retry_uncertain=True)


# -- running --------------------------------------------------------------------------------


def _spacing(sms: int, sms_per_second: float, requests_per_second: float) -> float:
    """Seconds of the rate a request of ``sms`` messages uses up."""
    return max(sms / sms_per_second if sms_per_second else 0.0,
               1.0 / requests_per_second if requests_per_second else 0.0)


class Pacer:
    """Keeps this process under the gateway's rate limit (SMS/s and requests/s; 0 = none)."""

    def __init__(self, sms_per_second: float = 0.0, requests_per_second: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.sms_per_second = sms_per_second
        self.requests_per_second = requests_per_second
        self.sleep = sleep
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def book(self, sms: int) -> float:
        """Book the next slot for a request of ``sms`` messages; the seconds until it."""
        with self._lock:
            now = self._clock()
            start = max(self._next, now)
            self._next = start + _spacing(sms, self.sms_per_second, self.requests_per_second)
            return start - now

    def wait(self, sms: int) -> float:
        """Wait until a request of ``sms`` messages may go, and book it; the seconds waited."""
        return _slept(self, self.book(sms))


class SharedPacer:
    """The gateway's rate limit is per account: one budget in the store for every worker together.

    Each request books its slot with ``Store.reserve_rate`` (a row updated under its lock)
    and waits for it, so N workers together send no faster than the limit, not N times it.
    """

    BUDGET = "gateway"

    def __init__(self, store: Store, sms_per_second: float = 0.0, requests_per_second: float = 0.0, *,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.sms_per_second = sms_per_second
        self.requests_per_second = requests_per_second
        self.sleep = sleep
        self._clock = clock

    def book(self, sms: int) -> float:
        """Book the next slot for a request of ``sms`` messages; the seconds until it."""
        spacing = _spacing(sms, self.sms_per_second, self.requests_per_second)
        if spacing <= 0:
            return 0.0  # no limit: no write per request
        return max(self.store.reserve_rate(self.BUDGET, spacing, now=self._clock()), 0.0)

    def wait(self, sms: int) -> float:
        """Wait until a request of ``sms`` messages may go, and book it; the seconds waited."""
        return _slept(self, self.book(sms))


def _slept(pacer: Pacer | SharedPacer, delay: float) -> float:
    if delay > 0:
        pacer.sleep(delay)
    return delay


def database_problem(error: sa.exc.DBAPIError) -> str:
    """Why a job paused when the database refused a write, as a sentence for people."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    lowered = detail.lower()
    if "locked" in lowered:
        what = "the database stayed locked by another program"
    elif "full" in lowered or "no space" in lowered:
        what = "the disk holding the database is full"
    elif "read-only" in lowered or "readonly" in lowered:
        what = "the database cannot be written (read-only)"
    else:
        what = "the database refused a write"
    return (f"Paused because {what} ({detail}). Nothing is lost: once the database can be written again, "
            "resume the job; a request that was under way is checked again first.")


@dataclass
class JobRunner:
    """Sends the batches of runnable jobs; ``run`` is the background runner's "jobs" task.

    Any number of runners, in any number of processes, may share one store: batches are
    claimed under a row lock with a lease (``Store.claim_batches``), so no two send the
    same batch, and one whose runner stops is taken over when its lease runs out.

    It sends in rounds of up to ``requests_in_flight`` batches: claimed together in one
    transaction, their requests made at once from threads of the runner's own (a gateway
    100 ms away then costs 100 ms per round, not per request), and what came back
    recorded together in one transaction. Every batch is marked ``sending`` before its
    request goes out and carries its own TransactionId, so a crash mid-round sends
    nothing twice; a pause or cancel takes effect at the next round.
    """

    client: Any
    store: Store
    gateway_deduplicates: bool = True
    phone_format: str = "digits"
    pacer: Pacer | SharedPacer = field(default_factory=Pacer)
    slice_seconds: float = 1.0
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    # A lease renewed by the worker's heartbeat (see smslib.services.worker) can be short; None: long
    # enough for the slowest send the client may make, for runners nobody renews.
    lease_seconds: float | None = None
    holder_prefix: str = field(default_factory=lambda: uuid.uuid4().hex)
    requests_in_flight: int = Settings.requests_in_flight
    activity: str = "idle"  # what it does now, for the worker's heartbeat
    _claims: Any = field(default_factory=lambda: itertools.count(1), repr=False)
    _unrecorded_pauses: dict[int, str] = field(default_factory=dict, repr=False)
    _senders: ThreadPoolExecutor | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, client: Any, store: Store, settings: Any, *, worker_id: str | None = None) -> JobRunner:
        """A runner as the settings say; ``worker_id``: a worker whose heartbeat renews its leases."""
        return cls(client, store, gateway_deduplicates=settings.gateway_deduplicates,
                   phone_format=settings.phone_format,
                   pacer=SharedPacer(store, settings.rate_limit_sms, settings.rate_limit_requests),
                   lease_seconds=settings.lease_seconds if worker_id else None,
                   holder_prefix=worker_id or uuid.uuid4().hex,
                   requests_in_flight=settings.requests_in_flight)

    def close(self) -> None:
        """Stop the sending threads (after the requests they are making)."""
        if self._senders is not None:
            self._senders.shutdown(wait=True)
            self._senders = None

    def run(self) -> bool:
        """Send batches for about ``slice_seconds``; True when there is more to send at once."""
        self._record_pauses()
        deadline = time.monotonic() + self.slice_seconds
        try:
            while time.monotonic() < deadline:
                job = self._next_job()
                if job is None:
                    return False
                # Stay on the job while it has batches: choosing it again per batch costs as much as a send.
                if self._send(job.id, deadline=deadline):
                    return True
                finished = self.store.get_job(job.id)
                if finished is None or finished.state is not JobState.DONE:
                    return False  # waiting (429, no connection), paused or failed: the runner waits a while
            return True
        finally:
            self.activity = "idle"

    def run_job(self, job_id: int, *, on_progress: Callable[[JobProgress], None] | None = None,
                idle_sleep: float = 0.5) -> JobProgress:
        """Run one job in the caller's thread until it is finished (the CLI's send-file)."""
        while True:
            more = self._send(job_id, deadline=time.monotonic() + self.slice_seconds)
            progress = job_progress(self.store, job_id)
            if on_progress:
                on_progress(progress)
            if progress.job.state in (JobState.DONE, JobState.CANCELLED, JobState.FAILED, JobState.PAUSED):
                return progress
            if not more:
                time.sleep(idle_sleep)

    def run_next_batch(self, job_id: int) -> bool:
        """Send the job's next batch, if it may run now; True when a batch was sent and more may follow."""
        return self._send(job_id, batches=1)

    def _send(self, job_id: int, *, deadline: float | None = None, batches: int | None = None) -> bool:
        """Send the job's batches, a round of up to ``requests_in_flight`` at a time, until it has
        none left, must wait, fails or pauses, ``deadline`` passes or ``batches`` were sent.

        True when it stopped with more to send at once. A round's requests are always seen
        through and recorded. When the database refuses a write (locked too long, disk
        full) the job pauses with the reason; the batches under way keep their state and
        are checked again on resume.
        """
        if job_id in self._unrecorded_pauses and not self._record_pauses():
            return False
        held: dict[int, str] = {}  # claimed and not recorded yet: batch id -> holder
        try:
            return self._send_rounds(job_id, held, deadline, batches)
        except sa.exc.OperationalError as error:
            self._pause_for_database(job_id, database_problem(error), list(held.items()))
            return False

    def _send_rounds(self, job_id: int, held: dict[int, str], deadline: float | None, batches: int | None) -> bool:
        sent = 0
        while batches is None or sent < batches:
            if deadline is not None and time.monotonic() >= deadline:
                return True
            size = self.requests_in_flight if batches is None else min(self.requests_in_flight, batches - sent)
            claimed = self._claim(job_id, size)
            if claimed is None:
                return False  # paused, cancelled, failed or outside its time
            holder, claims = claimed
            if not claims:
                if not self._has_batches_sending(job_id):
                    _finish(self.store, job_id)
                return False
            sent += len(claims)
            if self._send_round(job_id, holder, claims, held):
                return False
        return True

    def _send_round(self, job_id: int, holder: str, claims: Sequence[Claim], held: dict[int, str]) -> bool:
        """Send claimed batches at once and record what came back together; True when the job must stop for now."""
        held.update((claim.batch.id, holder) for claim in claims)
        to_send = []
        for claim in claims:
            if claim.taken_over and not self.gateway_deduplicates:
                self._leave_to_a_person(claim.batch, holder)
                del held[claim.batch.id]
            else:
                to_send.append(claim.batch)
        answers = self._gateway_answers(to_send, holder)
        outcomes = record_answers(self.store, answers)
        for answer in answers:
            del held[answer.batch.id]
        return self._must_stop(job_id, outcomes)

    def _gateway_answers(self, claimed: Sequence[Batch], holder: str) -> list[GatewayAnswer]:
        """The gateway's answers to claimed batches, in order; their requests go out at once, one per sending thread.

        The store is left alone meanwhile: with the requests under way, the only work is
        theirs, and every one has ended when this returns, whatever happened.
        """
        if len(claimed) <= 1:
            return [self._call_gateway(batch, holder) for batch in claimed]
        if self._senders is None:
            self._senders = ThreadPoolExecutor(self.requests_in_flight, thread_name_prefix="sms-send")
        under_way = [self._senders.submit(self._call_gateway, batch, holder) for batch in claimed]
        wait(under_way)
        return [request.result() for request in under_way]

    def _call_gateway(self, batch: Batch, holder: str) -> GatewayAnswer:
        delay = self.pacer.book(len(batch.phones))
        if delay > 0:
            # Its turn under the rate limit comes later (a round's last batch the latest): the
            # lease must outlast the wait and then the send, or another sender could take it.
            self.store.renew_leases(holder, lease_seconds=delay + self._lease_seconds())
            self.pacer.sleep(delay)
        return call_gateway(self.client, batch, holder, phone_format=self.phone_format)

    def _claim(self, job_id: int, count: int) -> tuple[str, list[Claim]] | None:
        """Claim up to ``count`` batches in one transaction, under one holder; None when the job may not send now."""
        job = self.store.get_job(job_id)
        if job is None or job.state not in (JobState.QUEUED, JobState.RUNNING):
            return None
        now = self.clock()
        if _waiting_for(job, now) is not None:
            return None
        self.activity = f"sending job {job_id}"
        if job.state is JobState.QUEUED:
            self.store.set_job_state(job_id, JobState.RUNNING)
        holder = f"{self.holder_prefix}/{next(self._claims)}"
        return holder, self.store.claim_batches(job_id, holder, count, now=now, lease_seconds=self._lease_seconds())

    def _lease_seconds(self) -> float:
        return self.lease_seconds if self.lease_seconds is not None else lease_seconds(self.client)

    def _leave_to_a_person(self, batch: Batch, holder: str) -> None:
        # It may have gone out before its sender stopped; without de-duplication a person decides.
        self.store.mark_batch_uncertain(
            batch.id, holder, "The sender stopped while sending this batch and the gateway does not "
            "de-duplicate: check whether it went out, then resend it or mark it as sent.",
            submitted_at=batch.updated_at)

    def _must_stop(self, job_id: int, outcomes: Sequence[SendOutcome]) -> bool:
        """Whether what came back stops the job for now: a batch that must wait, or credentials that fail."""
        for outcome in outcomes:
            if isinstance(outcome.exception, (AuthenticationError, ConfigError)):
                self.store.set_job_state(job_id, JobState.FAILED, error=outcome.error)
                return True
        waiting = [outcome for outcome in outcomes if outcome.state is BatchState.PENDING]
        if waiting:
            # 429 or no connection: nothing went out; try again later with the same TransactionId.
            self.store.set_job_state(job_id, JobState.RUNNING, error=waiting[-1].error)
            return True
        return False

    def _pause_for_database(self, job_id: int, reason: str, held: list[tuple[int, str]]) -> None:
        log.warning("job %s: %s", job_id, reason)
        self._unrecorded_pauses[job_id] = reason
        self._record_pauses(held)

    def _record_pauses(self, held: Sequence[tuple[int, str]] = ()) -> bool:
        """Write the pauses the database refused earlier; True when none is left unwritten.

        With a pause, the leases of the batches that were under way end now, so that a
        resume checks them again at once (with their TransactionIds) rather than after the lease.
        """
        if not self._unrecorded_pauses:
            return True
        now = datetime.now(timezone.utc)
        try:
            with self.store.atomic() as connection:
                for job_id, reason in self._unrecorded_pauses.items():
                    connection.execute(
                        sa.update(jobs).where(jobs.c.id == job_id,
                                              jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
                        .values(state=JobState.PAUSED.value, last_error=reason, updated_at=now))
                for batch_id, holder in held:
                    connection.execute(
                        sa.update(batches).where(batches.c.id == batch_id, batches.c.lease_holder == holder,
                                                 batches.c.state == BatchState.SENDING.value)
                        .values(lease_expires_at=now))
        except sa.exc.OperationalError as error:
            # Still refused: the job stays off in this process until the pause can be written.
            log.warning("the pause of jobs %s cannot be written yet: %s", sorted(self._unrecorded_pauses),
                        database_problem(error))
            return False
        self._unrecorded_pauses.clear()
        return True

    def _next_job(self) -> Job | None:
        with self.store.engine.connect() as connection:
            ids = connection.execute(
                sa.select(jobs.c.id).where(jobs.c.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
                .order_by(jobs.c.id)).scalars().all()
        now = self.clock()
        for job_id in ids:
            job = self.store.get_job(job_id)
            if job is not None and _waiting_for(job, now) is None and (
                self.store.has_claimable_batch(job_id, now=now) or not self._has_batches_sending(job_id)
            ):
                return job
        return None

    def _has_batches_sending(self, job_id: int) -> bool:
        with self.store.engine.connect() as connection:
            return bool(connection.execute(
                sa.select(sa.func.count()).select_from(batches)
                .where(batches.c.job_id == job_id, batches.c.state == BatchState.SENDING.value)).scalar())


def _finish(store: Store, job_id: int) -> None:
    with store.atomic() as connection:
        connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value)
            .values(state=JobState.DONE.value, updated_at=datetime.now(timezone.utc)))
