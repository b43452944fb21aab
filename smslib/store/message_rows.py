"""Messages and delivery reports: applying reports, history queries, a message's detail.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    and_,
    func,
    or_,
    select,
    update,
)

from ..core.errors import ValidationError
from ..core.models import Channel, DeliveryReport, MessageState
from .dialect import _insert_many
from .report_states import _apply_new_reports, _log_row
from .schema import messages, report_log
from .values import (
    _SORT_COLUMNS,
    ApplyCounts,
    Cursor,
    MessageDetail,
    MessageFilter,
    Page,
    SortKey,
    StoredMessage,
    _aware,
    _chunks,
    _logged_report,
    _message,
    _utcnow,
)


def _sort_column(sort: str) -> Column[Any]:
    try:
        return _SORT_COLUMNS[sort]
    except KeyError:
        raise ValidationError(
            f"Cannot sort messages by {sort!r}; use one of {', '.join(_SORT_COLUMNS)}.", field="sort"
        ) from None


def _conditions(filters: MessageFilter) -> list[Any]:
    m = messages.c
    conditions: list[Any] = []
    if filters.since is not None:
        conditions.append(m.submitted_at >= _aware(filters.since))
    if filters.until is not None:
        conditions.append(m.submitted_at < _aware(filters.until))
    if filters.phone.strip():
        phone = filters.phone.strip()
        conditions.append(
            m.phone.startswith(phone, autoescape=True)
            if filters.phone_match == "prefix"
            else m.phone.contains(phone, autoescape=True)
        )
    if filters.text.strip():
        conditions.append(m.text.icontains(filters.text.strip(), autoescape=True))
    if filters.states:
        conditions.append(m.state.in_([MessageState(s).value for s in filters.states]))
    exact = {
        m.sender: filters.sender,
        m.cost_center: filters.cost_center,
        m.priority: filters.priority,
        m.flash: filters.flash,
        m.job_id: filters.job_id,
        m.batch_id: filters.batch_id,
        m.channel: Channel(filters.channel).value if filters.channel is not None else None,
        m.sent_by: filters.sent_by,
    }
    conditions.extend(column == value for column, value in exact.items() if value is not None)
    return conditions


class MessagesMixin:
    """The ``Store``'s messages and delivery reports."""

    # -- delivery reports --------------------------------------------------------------------

    def apply_reports(self, reports: Iterable[DeliveryReport], *, received_at: datetime | None = None) -> ApplyCounts:
        """Log new reports and update their messages, in one transaction; idempotent.

        Rules, so that the result does not depend on how often or in which order reports come:

        - a ReportId already in the log is a duplicate and changes nothing;
        - every new report is logged (append-only), also when its message is not in the
          store yet: it is applied when that message is recorded (``unknown`` counts them);
        - a message shows the best of its reports: a final status (1, -1, -2, -3) beats a
          non-final one (0 or a code the contract does not list), so a final status is never
          overwritten by 0; between two of the same kind the later DeliveryTime wins (a report
          without one counts as oldest); a tie goes to the greater ReportId.
        - ``delivered_at`` is the winning report's DeliveryTime, whatever its status.
        """
        received_at = _aware(received_at) or _utcnow()
        unique: dict[str, DeliveryReport] = {}
        total = 0
        for report in reports:
            total += 1
            unique.setdefault(report.report_id, report)
        if not unique:
            return ApplyCounts()  # no transaction: the change counter (and the pages' caches) stay put
        r = report_log.c
        with self.atomic() as connection:
            # A ReportId already logged is skipped by the database: it stays a duplicate.
            _insert_many(connection, report_log, [_log_row(report, received_at) for report in unique.values()],
                         ignoring_conflicts=True)
            new = connection.scalar(select(func.count()).select_from(report_log).where(r.linked.is_(None))) or 0
            if not new:
                return ApplyCounts(duplicate=total)
            _apply_new_reports(connection)
            unknown = connection.execute(update(report_log).where(r.linked.is_(None)).values(linked=False)).rowcount
        return ApplyCounts(new=new, duplicate=total - new, unknown=unknown)

    def claim_pending_checks(
        self, *, submitted_before: datetime, limit: int = 10_000, now: datetime | None = None
    ) -> list[str]:
        """Gateway ids of pending messages due for a by-id report check; stamps them as checked.

        Due: submitted before ``submitted_before`` and not checked since then, so each
        stuck message is asked about at most once per interval and all get their turn.
        """
        now = _aware(now) or _utcnow()
        submitted_before = _aware(submitted_before)
        due = and_(
            messages.c.state == MessageState.PENDING.value,
            messages.c.message_id.is_not(None),
            messages.c.submitted_at < submitted_before,
            or_(messages.c.report_checked_at.is_(None), messages.c.report_checked_at < submitted_before),
        )
        with self._reading() as connection:
            rows = connection.execute(
                select(messages.c.id, messages.c.message_id).where(due).order_by(messages.c.id).limit(limit)
            ).all()
        if not rows:
            return []  # no write: the change counter (and the pages' caches) stay put
        # Two syncs may claim the same message: it is then asked about twice, which is harmless.
        with self.atomic() as connection:
            for chunk in _chunks([row.id for row in rows]):
                connection.execute(update(messages).where(messages.c.id.in_(chunk)).values(report_checked_at=now))
        return [row.message_id for row in rows]

    def message_states(self, message_ids: Iterable[str]) -> dict[str, MessageState]:
        """The state of each stored message among gateway ``message_ids`` (unknown ids are absent)."""
        found: dict[str, MessageState] = {}
        with self._reading() as connection:
            for chunk in _chunks(list(dict.fromkeys(message_ids))):
                rows = connection.execute(
                    select(messages.c.message_id, messages.c.state).where(messages.c.message_id.in_(chunk))
                )
                found.update((row.message_id, MessageState(row.state)) for row in rows)
        return found

    def unlinked_report_count(self) -> int:
        """Reports whose message is not in the store (sent by another system, or not recorded yet)."""
        with self._reading() as connection:
            return connection.scalar(select(func.count()).select_from(report_log).where(~report_log.c.linked)) or 0

    # -- history -----------------------------------------------------------------------------

    def query_messages(
        self,
        filters: MessageFilter = MessageFilter(),
        *,
        sort: SortKey = "submitted_at",
        descending: bool = True,
        after: Cursor | None = None,
        limit: int = 50,
    ) -> Page:
        """One page of messages; pass the returned ``next_cursor`` as ``after`` for the next.

        Keyset paging on (sort value, id): page 1,000 costs what page 1 costs.
        """
        column = _sort_column(sort)
        if limit < 1:
            raise ValidationError(f"A page holds at least one message, not {limit}.", field="limit")
        query = select(messages).where(*_conditions(filters))
        if after is not None:
            value, last_id = after
            if column is messages.c.id:
                query = query.where(column < last_id if descending else column > last_id)
            elif descending:
                # Written so that the index on (column, id) can serve the range.
                query = query.where(column <= value, or_(column < value, messages.c.id < last_id))
            else:
                query = query.where(column >= value, or_(column > value, messages.c.id > last_id))
        order = (column.desc(), messages.c.id.desc()) if descending else (column.asc(), messages.c.id.asc())
        if column is messages.c.id:
            order = order[1:]
        query = query.order_by(*order).limit(limit + 1)
        with self._reading() as connection:
            rows = [_message(row) for row in connection.execute(query)]
        if len(rows) <= limit:
            return Page(rows)
        rows = rows[:limit]
        last = rows[-1]
        return Page(rows, Cursor(getattr(last, sort) if sort != "state" else last.state.value, last.id))

    def count_messages(self, filters: MessageFilter = MessageFilter()) -> int:
        """How many messages match ``filters``."""
        query = select(func.count()).select_from(messages).where(*_conditions(filters))
        with self._reading() as connection:
            return connection.scalar(query) or 0

    def get_message(self, message_id: int) -> MessageDetail | None:
        """One message by its local id, with its reports from the log; None when absent."""
        with self._reading() as connection:
            row = connection.execute(select(messages).where(messages.c.id == message_id)).first()
            if row is None:
                return None
            reports = (
                connection.execute(
                    select(report_log)
                    .where(report_log.c.message_id == row.message_id)
                    .order_by(report_log.c.received_at, report_log.c.report_id)
                ).all()
                if row.message_id is not None
                else []
            )
        return MessageDetail(_message(row), tuple(_logged_report(r) for r in reports))

    def batch_messages(self, batch_id: int) -> list[StoredMessage]:
        """The messages recorded for one batch, in the order of its phones."""
        with self._reading() as connection:
            rows = connection.execute(select(messages).where(messages.c.batch_id == batch_id).order_by(messages.c.id))
            return [_message(row) for row in rows]
