"""What the store hands out: states, options and records as frozen values, and row converters.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy import (
    Column,
    select,
)
from sqlalchemy.engine import Connection

from ..core.errors import InvalidPhoneNumber
from ..core.models import Channel, DeliveryStatus, MessageState
from .dialect import _IN_CHUNK, _T, UTC
from .schema import messages

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
