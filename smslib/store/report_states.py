"""How logged delivery reports become message states (the SQL behind ``apply_reports``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    Column,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from ..core.models import DeliveryReport, DeliveryStatus, MessageState
from .dialect import _EPOCH, UtcDateTime, _updates_from_joins, latency_bucket_of, milliseconds_between
from .measures import hour_number
from .schema import messages, report_log
from .values import Batch, _chunks

_WAITING_REPORTS = select(report_log.c.message_id).where(
    report_log.c.linked == sa.false(), report_log.c.message_id.in_(sa.bindparam("ids", expanding=True)))


_A_WAITING_REPORT = _WAITING_REPORTS.limit(1)

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
