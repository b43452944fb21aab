"""Delivery-report sync: fetch unread reports, store them, and only then acknowledge them.

Reports are read with ``MarkAsRead=false``, stored (in parts of whole messages, one
transaction each), and only then exactly those are marked read by their message ids
(gateway contract §5). A crash between storing and acknowledging only means the same
reports come again; the store's idempotency absorbs them. Messages still pending after
a while are also asked about by id, for gateways that answer some reports only that way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from smslib.core.models import DeliveryReport, MessageState, ReportBatch
from .sending import lease_seconds
from smslib.store import ApplyCounts, Store

# Enough rounds to drain a gateway that pages its unread reports, few enough that one
# that ignores MarkAsRead cannot keep a sync running.
MAX_ROUNDS = 10
SYNC_LOCK = "report-sync"
# Reports stored per transaction (then acknowledged): enough that a transaction's fixed
# costs don't count, few enough that its changes fit the write page cache.
REPORTS_PER_PART = 10_000

Acknowledge = Callable[[Sequence[str]], ReportBatch]


@dataclass(frozen=True)
class SyncCounts:
    """What one sync did: reports new, already stored, of unknown messages; pending checks; acks."""

    new: int = 0
    duplicate: int = 0
    unknown: int = 0
    still_pending: int = 0   # messages asked about by id that still have no report
    acknowledged: int = 0    # reports the gateway marked read for us
    skipped: bool = False    # another process was syncing: this one did nothing


def sync_reports(
    client: Any,
    store: Store,
    *,
    pending_check_after: float | None = 300.0,
    now: datetime | None = None,
    acknowledge: Acknowledge | None = None,
    pending_check_limit: int = 10_000,
) -> SyncCounts:
    """Bring the store up to date with the gateway's reports; safe to interrupt at any point.

    ``pending_check_after``: seconds after which a message still pending is asked about
    by id (None: never). ``acknowledge`` marks reports read given their message ids; it
    defaults to ``client.delivery_reports(message_ids=..., mark_as_read=True)`` (told the
    reports just stored, so that its answer is not parsed again) and is replaceable, e.g.
    by a test that makes it fail after the store step. While another process syncs,
    nothing is done and the counts say ``skipped``.
    """
    # One sync at a time across every process: two would read the same unread reports and
    # acknowledge each other's. The lock dies with its holder (see Store.exclusive), and
    # an interrupted cycle loses nothing: unacknowledged reports simply come again.
    with store.exclusive(SYNC_LOCK, ttl_seconds=_sync_lease_seconds(client)) as mine:
        if not mine:
            return SyncCounts(skipped=True)
        return _sync(client, store, pending_check_after=pending_check_after, now=now, acknowledge=acknowledge,
                     pending_check_limit=pending_check_limit)


def _sync_lease_seconds(client: Any) -> float:
    """How long a SQLite sync lease lasts: a few slow calls. A sync outlasting it may overlap the
    next, which only costs duplicate work (storing is idempotent)."""
    return 4 * lease_seconds(client)


def _sync(
    client: Any,
    store: Store,
    *,
    pending_check_after: float | None,
    now: datetime | None,
    acknowledge: Acknowledge | None,
    pending_check_limit: int,
) -> SyncCounts:
    applied, acknowledged = ApplyCounts(), 0
    for _ in range(MAX_ROUNDS):
        counts, acked = _store_then_acknowledge(store, client, client.delivery_reports(mark_as_read=False),
                                                acknowledge)
        applied, acknowledged = applied + counts, acknowledged + acked
        if counts.new == 0:
            break

    still_pending = 0
    if pending_check_after is not None:
        now = now or datetime.now(timezone.utc)
        due = store.claim_pending_checks(
            submitted_before=now - timedelta(seconds=pending_check_after), limit=pending_check_limit, now=now
        )
        if due:
            answer = client.delivery_reports(message_ids=due, mark_as_read=False)
            counts, acked = _store_then_acknowledge(store, client, answer, acknowledge)
            applied, acknowledged = applied + counts, acknowledged + acked
            still_pending = sum(state is MessageState.PENDING for state in store.message_states(due).values())
    return SyncCounts(applied.new, applied.duplicate, applied.unknown, still_pending, acknowledged)


def _store_then_acknowledge(store: Store, client: Any, batch: ReportBatch,
                            acknowledge: Acknowledge | None) -> tuple[ApplyCounts, int]:
    """Store ``batch`` durably, then mark exactly its reports read; return the counts and acks.

    Many reports are stored in parts of whole messages (the gateway marks reports read by
    message), one transaction each, and each part is acknowledged once it is committed.
    """
    stored = {report.report_id: report for report in batch.reports}
    counts, answers = ApplyCounts(), []
    for message_ids, reports in _parts_by_message(batch.reports):
        counts += store.apply_reports(reports)
        answers.append(acknowledge(message_ids) if acknowledge is not None
                       else client.delivery_reports(message_ids=message_ids, mark_as_read=True, known=stored))
    # The acknowledging call answers with what it marked read; a report that arrived in
    # between is among them and must be stored too. The rest were stored a moment ago:
    # leaving them out spares re-inserting (and re-applying) every report of the round.
    late = store.apply_reports([report for answer in answers for report in answer.reports
                                if report.report_id not in stored])
    return counts + ApplyCounts(late.new, 0, late.unknown), sum(len(answer.reports) for answer in answers)


def _parts_by_message(reports: Sequence[DeliveryReport]) -> list[tuple[list[str], list[DeliveryReport]]]:
    """The reports in parts of about ``REPORTS_PER_PART``, every report of a message in the same part."""
    part_of: dict[str, int] = {}
    parts: list[tuple[list[str], list[DeliveryReport]]] = []
    for report in reports:
        index = part_of.get(report.message_id)
        if index is None:
            if not parts or len(parts[-1][1]) >= REPORTS_PER_PART:
                parts.append(([], []))
            index = part_of[report.message_id] = len(parts) - 1
            parts[index][0].append(report.message_id)
        parts[index][1].append(report)
    return parts
