"""The message history as tables for people: what the history page shows and exports.

Rows come from the store's keyset-paged queries; this module only shapes them (state
names, times in the viewer's zone, latency in seconds) and writes exports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd

from smslib.core.models import Channel, MessageState
from smslib.rules.spreadsheet import write_table
from smslib.store import Cursor, MessageFilter, StoredMessage, Store

EXPORT_LIMIT = 200_000  # rows in one export; beyond it, narrow the filters
PREVIEW_CHARS = 60

COLUMNS = {
    "id": "ID",
    "phone": "Number",
    "text": "Message",
    "state": "State",
    "sender": "Sender",
    "submitted": "Sent",
    "delivered": "Delivered",
    "latency_s": "Latency (s)",
    "message_id": "Gateway message id",
    "cost_center": "Cost centre",
    "channel": "Channel",
    "job_id": "Job",
    "sent_by": "Sent by",
    "error": "Error",
}


NUMBER_FILTER_HELP = (
    "Starting with + (or 00, read as +): the numbers that start with it, so +48600 finds +48 600 100 200 "
    "but not +48 512 486 001. Anything else: the numbers that contain these digits anywhere."
)
_DROP_NUMBER_PUNCTUATION = str.maketrans("", "", "-.()/")


def number_filter(text: str) -> tuple[str, Literal["contains", "prefix"]]:
    """What the Number filter looks for and how, as ``MessageFilter`` takes it (``phone``, ``phone_match``).

    Numbers are kept in E.164 (``+48600100200``). Input starting with ``+``, or with
    ``00`` (the international prefix dialled instead of ``+``), is the start of a number:
    ``+48600`` and ``0048600`` both find the numbers beginning ``+48600``. Anything else is
    looked for anywhere in a number, without a ``+``. Wildcards (``%``, ``_``) are plain
    characters: the store escapes them.
    """
    compact = "".join(text.split()).translate(_DROP_NUMBER_PUNCTUATION)
    if compact.startswith("+"):
        return compact, "prefix"
    if compact.startswith("00") and len(compact) > 2:
        return "+" + compact[2:], "prefix"
    return compact, "contains"


def parse_day(text: str | None) -> date | None:
    """A day as a URL carries it (``2026-03-01``); None when absent or not a date."""
    try:
        return date.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        return None


def day_range(start: date | None, end: date | None, zone: str) -> tuple[datetime | None, datetime | None]:
    """Whole days from ``start`` to ``end`` (inclusive) in ``zone``, as a half-open UTC range.

    Either end may be None (open); a range that ends before it starts matches nothing.
    """
    tz = ZoneInfo(zone)
    since = datetime.combine(start, time.min, tz) if start else None
    until = datetime.combine(end + timedelta(days=1), time.min, tz) if end else None
    return since, until


def messages_frame(rows: Iterable[StoredMessage], zone: str, *, preview: bool = True) -> pd.DataFrame:
    """Messages as a table with people's column names, times in ``zone`` without offset."""
    tz = ZoneInfo(zone)

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(tz).replace(tzinfo=None) if value else None

    records = [
        {
            "id": m.id,
            "phone": m.phone,
            "text": _preview(m.text) if preview else m.text,
            "state": m.state.label,
            "sender": m.sender or "",
            "submitted": local(m.submitted_at),
            "delivered": local(m.delivered_at),
            "latency_s": m.latency.total_seconds() if m.latency is not None else None,
            "message_id": m.message_id or "",
            "cost_center": m.cost_center or "",
            "channel": m.channel.value,
            "job_id": m.job_id,
            "sent_by": m.sent_by,
            "error": m.error or "",
        }
        for m in rows
    ]
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return frame.rename(columns=COLUMNS)


def iter_matching(store: Store, filters: MessageFilter, *, limit: int = EXPORT_LIMIT,
                  page_size: int = 5_000) -> Iterator[StoredMessage]:
    """Every message matching ``filters``, newest first, at most ``limit``, page by page."""
    cursor: Cursor | None = None
    seen = 0
    while seen < limit:
        page = store.query_messages(filters, after=cursor, limit=min(page_size, limit - seen))
        yield from page.rows
        seen += len(page.rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def export_messages(store: Store, filters: MessageFilter, fmt: str, zone: str,
                    *, limit: int = EXPORT_LIMIT) -> bytes:
    """The matching messages (full text) as CSV or XLSX, formulas neutralised."""
    return write_table(messages_frame(iter_matching(store, filters, limit=limit), zone, preview=False), fmt)


def parse_states(values: Iterable[str]) -> tuple[MessageState, ...]:
    """States from URL or widget values (``delivered``), ignoring unknown ones."""
    known = {s.value: s for s in MessageState}
    return tuple(known[v] for v in values if v in known)


def parse_channel(value: str | None) -> Channel | None:
    return Channel(value) if value in {c.value for c in Channel} else None


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"
