"""Aggregations for the analytics page and ``python -m smslib stats``, computed in the database.

Nothing here loads message rows into memory: every query GROUPs BY in SQL and returns at
most a few hundred thousand small rows (a month by hour), whatever the store holds.

- Speed: the store keeps, per message, the UTC hour of ``submitted_at`` as an integer
  (``submitted_hour``) and the latency in milliseconds with its log bucket
  (``latency_ms``, ``latency_bucket``), with covering indexes that lead with the hour.
  The big queries GROUP BY the hour first, so SQLite aggregates while it walks an index
  (it has no hash aggregation: any other GROUP BY sorts every row) and PostgreSQL
  never reads the table; pandas then rolls the hourly rows up.
- Time buckets: hours are rolled up to the viewer's local hours or days here. Days in
  zones whose offset is a whole number of hours (Europe/Warsaw and most others) are
  therefore exact, across DST. A bucket is the aware local start of its hour or day, so
  the hour that repeats when the clocks go back (02:00 twice in Warsaw) is two buckets,
  told apart in their ``time`` label by the UTC offset.
- Latency (``delivered_at - accepted_at``, both the gateway's clock) of delivered
  messages is counted in ``LATENCY_RESOLUTION`` log buckets per unit of ln(seconds) (1 %
  wide); percentiles are interpolated inside the bucket, so they are within 1 % of the
  exact ones. The trend per hour or day uses buckets five times as wide.
- The queries are the same Core code for SQLite and PostgreSQL; what differs between
  them lives in smslib.store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from smslib.core.errors import ValidationError
from .history import parse_day
from smslib.core.models import PRIORITY_NAMES, Channel, MessageState
from smslib.store import LATENCY_RESOLUTION, SHORTEST_LATENCY_MS, Store, hour_number, jobs, messages

TREND_COARSENING = 5       # latency buckets of the trend: five stored ones each (5 % wide)
TREND_RESOLUTION = LATENCY_RESOLUTION // TREND_COARSENING
SHORTEST_LATENCY = SHORTEST_LATENCY_MS / 1000  # seconds; 0 (or a skewed negative latency) counts as this
PERCENTILES = (50, 90, 95, 99)
HOURLY_UP_TO = timedelta(days=2)  # longer periods are shown by day
PREFIX_LENGTH = 6          # "+48791": country code and the operator's range
TOP = 15                   # rows of the "fail most" tables

FAILURE_STATES = (MessageState.UNDELIVERED, MessageState.EXPIRED, MessageState.REJECTED, MessageState.FAILED)
UNSETTLED_STATES = (MessageState.PENDING, MessageState.UNCERTAIN)
STATE_ORDER = tuple(MessageState)  # the order of states on every chart, as everywhere in the app

RangeName = Literal["today", "7d", "30d", "custom"]
RANGES: dict[str, str] = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom"}
DIMENSIONS: dict[str, str] = {"sender": "Sender", "cost_center": "Cost centre", "priority": "Priority", "job_id": "Job"}


# -- What to look at --------------------------------------------------------------------------


@dataclass(frozen=True)
class Narrowing:
    """Fields that narrow the messages counted; None does not narrow."""

    sender: str | None = None
    cost_center: str | None = None
    priority: int | None = None
    flash: bool | None = None
    job_id: int | None = None
    channel: Channel | None = None

    def narrowing(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(Narrowing)}

    def narrowing_params(self) -> dict[str, str]:
        """The set fields as URL parameters, as the analytics and the history pages both read them."""
        params = {key: str(value) for key, value in (("sender", self.sender), ("cost_center", self.cost_center),
                                                      ("priority", self.priority), ("job", self.job_id))
                  if value is not None}
        if self.flash is not None:
            params["flash"] = "true" if self.flash else "false"
        if self.channel is not None:
            params["channel"] = self.channel.value
        return params


@dataclass(frozen=True, kw_only=True)
class AnalyticsFilter(Narrowing):
    """Which messages the analytics count: submitted in [since, until) (UTC) and matching every set field."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("AnalyticsFilter needs aware datetimes (UTC).")
        if self.until <= self.since:
            raise ValidationError("The period must end after it starts.", field="until")

    @property
    def length(self) -> timedelta:
        return self.until - self.since

    @property
    def bucket(self) -> Literal["hour", "day"]:
        """The time bucket of the charts: hours for up to two days, days beyond."""
        return "hour" if self.length <= HOURLY_UP_TO else "day"

    def previous(self) -> AnalyticsFilter:
        """The same filter over the period of the same length just before this one."""
        return replace(self, since=self.since - self.length, until=self.since)

    def history_params(self, zone: str) -> dict[str, str]:
        """The History page's URL parameters for these messages: the local days of the period, and the fields.

        History filters whole days; a period that ends "now" ends with today, when nothing
        later has been sent.
        """
        tz = ZoneInfo(zone)
        first = self.since.astimezone(tz).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(tz).date()
        return {"from": first.isoformat(), "to": last.isoformat(), **self.narrowing_params()}


@dataclass(frozen=True)
class View(Narrowing):
    """What a person chose on the page; lives in the URL so that a view can be shared."""

    range: RangeName = "7d"
    start: date | None = None   # custom range, local dates, both included
    end: date | None = None

    def to_params(self) -> dict[str, str]:
        """The query parameters of this view (only what differs from the default)."""
        params: dict[str, str] = {}
        if self.range != "7d":
            params["range"] = self.range
        if self.range == "custom":
            if self.start:
                params["from"] = self.start.isoformat()
            if self.end:
                params["to"] = self.end.isoformat()
        return {**params, **self.narrowing_params()}

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> View:
        """The view a URL describes; a value that makes no sense is ignored (a shared link stays usable)."""
        def text(key: str) -> str | None:
            value = params.get(key)
            return value.strip() or None if isinstance(value, str) else None

        range_name = text("range") or "7d"
        if range_name not in RANGES:
            range_name = "7d"
        start, end = parse_day(text("from")), parse_day(text("to"))
        if range_name == "custom" and (start is None or end is None or end < start):
            range_name, start, end = "7d", None, None
        priority = _int(text("priority"))
        flash_text = (text("flash") or "").lower()
        channel = text("channel")
        return cls(
            range=range_name, start=start if range_name == "custom" else None,
            end=end if range_name == "custom" else None, sender=text("sender"), cost_center=text("cost_center"),
            priority=priority if priority in PRIORITY_NAMES else None,
            flash={"true": True, "false": False}.get(flash_text), job_id=_int(text("job")),
            channel=Channel(channel) if channel in {c.value for c in Channel} else None,
        )

    def resolve(self, zone: str, now: datetime | None = None) -> AnalyticsFilter:
        """The filter of this view at ``now``, with the period's days in time zone ``zone``."""
        since, until = period(self.range, zone, now=now, start=self.start, end=self.end)
        return AnalyticsFilter(since=since, until=until, **self.narrowing())


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def period(range_name: str, zone: str, *, now: datetime | None = None, start: date | None = None,
           end: date | None = None) -> tuple[datetime, datetime]:
    """[since, until) in UTC of a named range; days begin at midnight in ``zone``.

    ``today``, ``7d`` and ``30d`` end now and begin at the local midnight of today, 6 and 29
    days ago; ``custom`` covers the local days ``start`` to ``end``, both included.
    """
    tz = ZoneInfo(zone)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    today = now.astimezone(tz).date()
    if range_name == "custom":
        if start is None or end is None:
            raise ValidationError("A custom period needs a first and a last day.", field="from")
        if end < start:
            raise ValidationError("The last day of the period is before its first day.", field="to")
        return local_midnight(start, tz), local_midnight(end + timedelta(days=1), tz)
    days = {"today": 0, "7d": 6, "30d": 29}.get(range_name)
    if days is None:
        raise ValidationError(f"Unknown period {range_name!r}; use one of {', '.join(RANGES)}.", field="range")
    return local_midnight(today - timedelta(days=days), tz), now


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz``."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


# -- Results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Latency of the delivered messages in seconds; None when there is none."""

    count: int
    percentiles: dict[int, float | None]

    def __getitem__(self, p: int) -> float | None:
        return self.percentiles[p]


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of one period."""

    messages: int
    segments: int
    by_state: dict[MessageState, int]
    latency: Latency

    def count(self, state: MessageState) -> int:
        return self.by_state.get(state, 0)

    @property
    def settled(self) -> int:
        """Messages whose outcome is known (everything but pending and uncertain)."""
        return self.messages - sum(self.count(s) for s in UNSETTLED_STATES)

    @property
    def pending(self) -> int:
        return self.count(MessageState.PENDING)

    @property
    def delivered_share(self) -> float | None:
        """Delivered among the messages with a known outcome; None when there is none."""
        return self.count(MessageState.DELIVERED) / self.settled if self.settled else None

    @property
    def failed_share(self) -> float | None:
        return sum(self.count(s) for s in FAILURE_STATES) / self.settled if self.settled else None

    def failed_share_by_kind(self) -> dict[MessageState, float | None]:
        return {s: (self.count(s) / self.settled if self.settled else None) for s in FAILURE_STATES}

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers (JSON-ready): counts per state, shares, latency percentiles in seconds."""
        return {
            "messages": self.messages,
            "segments": self.segments,
            "states": {s.value: self.count(s) for s in STATE_ORDER},
            "delivered_share": self.delivered_share,
            "failed_share": self.failed_share,
            "failed_share_by_kind": {s.value: v for s, v in self.failed_share_by_kind().items()},
            "pending": self.pending,
            "latency_seconds": {"count": self.latency.count,
                                **{f"p{p}": v for p, v in self.latency.percentiles.items()}},
        }


@dataclass(frozen=True)
class Overview:
    """Everything the analytics page shows for one filter."""

    filter: AnalyticsFilter
    zone: str
    kpis: Kpis
    previous: Kpis
    states: pd.DataFrame             # state, label, color, messages, share — in STATE_ORDER
    over_time: pd.DataFrame          # bucket (aware, in zone), time (its label), state, label, messages
    latency_histogram: pd.DataFrame  # lower, upper (seconds), messages, cumulative_share
    latency_over_time: pd.DataFrame  # bucket, time, messages, p50, p90, p95, p99
    breakdowns: dict[str, pd.DataFrame] = field(default_factory=dict)  # by DIMENSIONS key
    failing_numbers: pd.DataFrame = field(default_factory=pd.DataFrame)
    failing_prefixes: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def bucket(self) -> str:
        return self.filter.bucket

    def tables(self) -> dict[str, pd.DataFrame]:
        """The aggregated tables by name, for exports."""
        tables = {"states": self.states, "over_time": self.over_time, "latency_histogram": self.latency_histogram,
                  "latency_over_time": self.latency_over_time}
        tables.update({f"by_{name}": frame for name, frame in self.breakdowns.items()})
        tables.update({"failing_numbers": self.failing_numbers, "failing_prefixes": self.failing_prefixes})
        return tables


# -- Queries ----------------------------------------------------------------------------------

_m = messages.c
_PREFIX = sa.func.substr(_m.phone, sa.literal_column("1"), sa.literal_column(str(PREFIX_LENGTH)))
_IS_FAILURE = _m.state.in_([s.value for s in FAILURE_STATES])
# In the order of the index ix_messages_hour_fields, so that SQLite groups without sorting.
_FIELDS = (_m.sender, _m.cost_center, _m.priority, _m.job_id)


def _conditions(f: AnalyticsFilter, *, by_hour: bool = True) -> list[ColumnElement[bool]]:
    # The hour range lets the hour-led indexes serve the query; submitted_at makes the ends exact.
    # Without it (by_hour=False), the phone index (phone, submitted_at) covers a count per number.
    conditions: list[ColumnElement[bool]] = _hour_conditions(f) if by_hour else [
        _m.submitted_at >= f.since, _m.submitted_at < f.until]
    # coalesce() keeps SQLite off the sender's own index: a sender is a third of the store, and
    # reading its rows through that index costs ten times walking the period's covering index.
    exact = {sa.func.coalesce(_m.sender, ""): f.sender, _m.cost_center: f.cost_center, _m.priority: f.priority,
             _m.flash: f.flash, _m.job_id: f.job_id, _m.channel: f.channel.value if f.channel is not None else None}
    conditions.extend(column == value for column, value in exact.items() if value is not None)
    return conditions


def _hour_conditions(f: AnalyticsFilter) -> list[ColumnElement[bool]]:
    """[since, until) by the hour, comparing submitted_at only where an end cuts an hour.

    Inside the period's whole hours the integer hour decides alone (SQLite's OR stops at
    its first true term): comparing the text or timestamp of every row cost a quarter of
    the big queries. An end on the hour needs no submitted_at at all. Exact because
    submitted_hour is the UTC hour of submitted_at (see smslib.store.hour_number).
    """
    first, last = hour_number(f.since), hour_number(f.until)
    conditions: list[ColumnElement[bool]] = [_m.submitted_hour >= first]
    if not _on_the_hour(f.since, first):
        conditions.append(sa.or_(_m.submitted_hour > first, _m.submitted_at >= f.since))
    if _on_the_hour(f.until, last):
        conditions.append(_m.submitted_hour < last)
    else:
        conditions.extend([_m.submitted_hour <= last, sa.or_(_m.submitted_hour < last, _m.submitted_at < f.until)])
    return conditions


def _on_the_hour(when: datetime, hour: int) -> bool:
    return when == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)


def _delivered(f: AnalyticsFilter) -> list[ColumnElement[bool]]:
    return [_m.state == MessageState.DELIVERED.value, *_conditions(f), _m.latency_bucket.is_not(None)]


def _counts() -> list[ColumnElement[Any]]:
    return [sa.func.count().label("messages"), sa.func.coalesce(sa.func.sum(_m.segments), 0).label("segments")]


def _fields_query(f: AnalyticsFilter) -> sa.Select[Any]:
    """Messages and segments per hour, breakdown fields and state: the status, time and breakdown charts."""
    keys = (_m.submitted_hour.label("hour"), *_FIELDS, _m.state)
    return sa.select(*keys, *_counts()).where(*_conditions(f)).group_by(*keys)


def _state_totals_query(f: AnalyticsFilter) -> sa.Select[Any]:
    return sa.select(_m.state, *_counts()).where(*_conditions(f)).group_by(_m.state)


def _latency_hours_query(f: AnalyticsFilter) -> sa.Select[Any]:
    keys = (_m.submitted_hour.label("hour"), _m.latency_bucket.label("bucket"))
    return sa.select(*keys, sa.func.count().label("messages")).where(*_delivered(f)).group_by(*keys)


def _latency_query(f: AnalyticsFilter) -> sa.Select[Any]:
    bucket = _m.latency_bucket.label("bucket")
    return sa.select(bucket, sa.func.count().label("messages")).where(*_delivered(f)).group_by(bucket)


def _failing_query(f: AnalyticsFilter) -> sa.CompoundSelect:
    """The numbers and the prefixes that fail most, from one pass over the period's failures.

    Rows of (kind, key, failed): kind "phone" or "prefix". The failures per number are
    counted once (a CTE used twice, which SQLite >= 3.35 and PostgreSQL >= 12 materialise)
    and the prefixes summed from those, instead of reading every failure of the period twice.
    """
    per_phone = (sa.select(_m.phone, sa.func.count().label("failed")).where(_IS_FAILURE, *_conditions(f))
                 .group_by(_m.phone).cte("failed_phones"))
    numbers = (sa.select(sa.literal("phone", sa.String()).label("kind"), per_phone.c.phone.label("key"),
                         per_phone.c.failed)
               .order_by(per_phone.c.failed.desc(), per_phone.c.phone).limit(TOP).subquery("numbers"))
    prefix = sa.func.substr(per_phone.c.phone, sa.literal_column("1"), sa.literal_column(str(PREFIX_LENGTH)))
    failed = sa.cast(sa.func.sum(per_phone.c.failed), sa.Integer).label("failed")
    prefixes = (sa.select(sa.literal("prefix", sa.String()).label("kind"), prefix.label("key"), failed)
                .group_by(prefix).order_by(failed.desc(), prefix).limit(TOP).subquery("prefixes"))
    return sa.union_all(sa.select(numbers.c.kind, numbers.c.key, numbers.c.failed),
                        sa.select(prefixes.c.kind, prefixes.c.key, prefixes.c.failed))


# All messages of the failing numbers and prefixes. Unnarrowed: ranges of the phone index, far
# fewer rows than the period. Narrowed (by sender, priority, …): the phone index lacks those
# fields, so the period's covering index is walked instead (coalesce() keeps SQLite off the phone index).


def _phone_totals_query(f: AnalyticsFilter, phones: Sequence[str]) -> sa.Select[Any]:
    phone = sa.func.coalesce(_m.phone, "") if _narrowed(f) else _m.phone
    return (sa.select(_m.phone, sa.func.count().label("messages"))
            .where(phone.in_(list(phones)), *_conditions(f, by_hour=_narrowed(f))).group_by(_m.phone))


def _prefix_totals_query(f: AnalyticsFilter, prefixes: Sequence[str]) -> sa.Select[Any] | sa.CompoundSelect:
    if _narrowed(f):
        prefix = _PREFIX.label("prefix")
        return (sa.select(prefix, sa.func.count().label("messages"))
                .where(_PREFIX.in_(list(prefixes)), *_conditions(f)).group_by(prefix))
    return sa.union_all(*(
        sa.select(sa.literal(prefix, sa.String()).label("prefix"), sa.func.count().label("messages"))
        .where(_m.phone >= prefix, _m.phone < _after_prefix(prefix), *_conditions(f, by_hour=False))
        for prefix in prefixes))


def _narrowed(f: AnalyticsFilter) -> bool:
    return any(value is not None for value in f.narrowing().values())


def _after_prefix(prefix: str) -> str:
    """The smallest text after every text starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _job_names(connection: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = connection.execute(sa.select(jobs.c.id, jobs.c.name).where(jobs.c.id.in_(list(ids)[:1000])))
    return {row.id: row.name for row in rows}


def _frame(connection: sa.Connection, query: sa.Select[Any] | sa.CompoundSelect) -> pd.DataFrame:
    """An aggregate's rows as the driver returns them (numbers and texts need no conversion).

    Read from the DBAPI cursor: SQLAlchemy's Row objects, and pandas reading them one by
    one, cost ten times the query itself for the 200,000 rows of a month by hour.
    """
    result = connection.execute(query)
    try:
        keys, rows = list(result.keys()), result.cursor.fetchall()
    finally:
        result.close()
    if not rows:
        return pd.DataFrame({key: np.array([]) for key in keys}, columns=keys)
    # One 2-D array of Python objects, then a column at a time: a tenth of zip(*rows)'s cost.
    table = np.array(rows, dtype=object)
    if table.ndim != 2:  # a row holding a sequence: fall back to building each column
        table = np.empty((len(rows), len(keys)), dtype=object)
        for index, row in enumerate(rows):
            table[index, :] = row
    return pd.DataFrame({key: _column(table[:, index]) for index, key in enumerate(keys)}, columns=keys)


def _column(values: np.ndarray) -> np.ndarray:
    """Whole numbers as int64, anything else (texts, NULLs) as Python objects: no string inference."""
    if len(values) and (values[0] is None or isinstance(values[0], str)):
        return values.copy()  # a NULL or a text: never a numeric column
    array = np.array(values.tolist())
    return array if array.dtype.kind in "biuf" else values.copy()


# -- Computation ------------------------------------------------------------------------------


def kpis(store: Store, f: AnalyticsFilter) -> Kpis:
    """The headline numbers of one period (what ``python -m smslib stats`` prints)."""
    with store.engine.connect() as connection:
        totals = _frame(connection, _state_totals_query(f))
        latency = _frame(connection, _latency_query(f))
    return _kpis(totals, latency)


def overview(store: Store, f: AnalyticsFilter, zone: str, *, workers: int = 2) -> Overview:
    """Everything the page shows for ``f``, with days and hours in time zone ``zone``.

    The independent parts run side by side on their own connections (the database does
    the work; SQLite's driver lets go of the GIL while it runs a query).
    """
    def by_fields(connection: sa.Connection) -> dict[str, Any]:
        # The status, time and breakdown charts; rolled up here, on the worker, so that pandas
        # runs while the other worker's query runs in SQLite (which lets go of the GIL).
        frame = _frame(connection, _fields_query(f))
        job_names = _job_names(connection, [int(j) for j in frame["job_id"].dropna().unique()])
        state_hours = _sum_by(frame, ["hour", "state"], ["messages", "segments"])
        return {"totals": _sum_by(state_hours, ["state"], ["messages", "segments"]),
                "over_time": _over_time(state_hours, f, zone), "breakdowns": _breakdowns(frame, job_names)}

    def by_latency(connection: sa.Connection) -> dict[str, Any]:
        latency_hours = _frame(connection, _latency_hours_query(f))
        latency = _sum_by(latency_hours, ["bucket"], ["messages"])
        return {"latency": latency, "histogram": _histogram_table(latency),
                "over_time": _latency_over_time(latency_hours, f, zone)}

    # Each worker takes the next part when it is done with one. The two that fetch many rows
    # hold the GIL for every row, so they go apart: the failures (a few rows, all SQLite) run
    # beside the fields first.
    parts: dict[str, Callable[[sa.Connection], Any]] = {
        "fields": by_fields,
        "failing": lambda c: _failing(c, f),
        "latency": by_latency,
        "previous": lambda c: _kpis(_frame(c, _state_totals_query(f.previous())),
                                    _frame(c, _latency_query(f.previous()))),
    }
    results = _run_all(store, parts, workers)
    fields_part, latency_part = results["fields"], results["latency"]
    failing_numbers, failing_prefixes = results["failing"]
    current = _kpis(fields_part["totals"], latency_part["latency"])
    return Overview(
        filter=f, zone=zone, kpis=current, previous=results["previous"],
        states=_states_table(current),
        over_time=fields_part["over_time"],
        latency_histogram=latency_part["histogram"],
        latency_over_time=latency_part["over_time"],
        breakdowns=fields_part["breakdowns"],
        failing_numbers=failing_numbers,
        failing_prefixes=failing_prefixes,
    )


def _run_all(store: Store, parts: dict[str, Callable[[sa.Connection], Any]], workers: int) -> dict[str, Any]:
    def run(part: Callable[[sa.Connection], Any]) -> Any:
        with store.engine.connect() as connection:
            return part(connection)

    if workers <= 1:
        return {name: run(part) for name, part in parts.items()}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analytics") as pool:
        futures = {name: pool.submit(run, part) for name, part in parts.items()}
        return {name: future.result() for name, future in futures.items()}


def _sum_by(frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    if not len(frame):
        return pd.DataFrame(columns=[*keys, *values])
    return frame.groupby(keys, as_index=False, sort=False, dropna=False)[values].sum()


def _failing(connection: sa.Connection, f: AnalyticsFilter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numbers and prefixes with the most failures, each with its count of messages."""
    both = _frame(connection, _failing_query(f))
    numbers, prefixes = (pd.DataFrame({kind: both.loc[both["kind"] == kind, "key"].to_numpy(dtype=object),
                                       "failed": both.loc[both["kind"] == kind, "failed"].to_numpy(dtype=np.int64)})
                         for kind in ("phone", "prefix"))
    number_totals = (_frame(connection, _phone_totals_query(f, numbers["phone"].tolist())) if len(numbers)
                     else pd.DataFrame(columns=["phone", "messages"]))
    prefix_totals = (_frame(connection, _prefix_totals_query(f, prefixes["prefix"].tolist())) if len(prefixes)
                     else pd.DataFrame(columns=["prefix", "messages"]))
    return (_with_share(numbers, number_totals, "phone"), _with_share(prefixes, prefix_totals, "prefix"))


def _kpis(totals: pd.DataFrame, latency: pd.DataFrame) -> Kpis:
    by_state = {MessageState(row.state): int(row.messages) for row in totals.itertuples() if int(row.messages)}
    return Kpis(messages=int(totals["messages"].sum()) if len(totals) else 0,
                segments=int(totals["segments"].sum()) if len(totals) else 0,
                by_state=by_state, latency=_latency(latency, LATENCY_RESOLUTION))


def _latency(histogram: pd.DataFrame, resolution: int) -> Latency:
    counts = histogram["messages"].to_numpy(dtype=float) if len(histogram) else np.zeros(0)
    buckets = histogram["bucket"].to_numpy(dtype=float) if len(histogram) else np.zeros(0)
    return Latency(count=int(counts.sum()),
                   percentiles={p: histogram_percentile(buckets, counts, p / 100, resolution) for p in PERCENTILES})


def histogram_percentile(buckets: np.ndarray, counts: np.ndarray, q: float, resolution: int) -> float | None:
    """The ``q`` quantile (0..1) of values counted in log buckets ``floor(ln(x) * resolution)``.

    Linear in rank inside the bucket, geometric in value (the buckets are geometric), as
    for a continuous distribution; None for an empty histogram.
    """
    total = float(np.sum(counts))
    if total <= 0:
        return None
    order = np.argsort(buckets)
    buckets, counts = np.asarray(buckets, float)[order], np.asarray(counts, float)[order]
    cumulative = np.cumsum(counts)
    rank = q * total
    index = int(min(np.searchsorted(cumulative, rank, side="left"), len(counts) - 1))
    before = cumulative[index] - counts[index]
    fraction = 0.0 if counts[index] == 0 else min(max((rank - before) / counts[index], 0.0), 1.0)
    return float(math.exp((buckets[index] + fraction) / resolution))


def _bucket_starts(hours: pd.Series, zone: str, bucket: str) -> pd.Series:
    """Hours since 1970 (UTC) as the start of their local hour or day, in seconds since 1970.

    A whole number is an exact key (the hour that repeats when the clocks go back is two)
    and groups as fast as the hour does; ``_as_local`` makes it a time for people.
    """
    hours = hours.astype("int64")
    if bucket == "hour":
        return hours * 3600
    unique = pd.Series(pd.unique(hours))
    local = pd.to_datetime(unique * 3600, unit="s", utc=True).dt.tz_convert(zone)
    midnights = _local_midnights(pd.DatetimeIndex(local.dt.tz_localize(None).dt.normalize()), zone)
    # Converted once per distinct hour, then looked up: a month has 720 hours but 200,000 rows.
    return hours.map(dict(zip(unique, midnights.as_unit("s").asi8)))


def _as_local(seconds: pd.Series, zone: str) -> pd.Series:
    """Seconds since 1970 as aware times in ``zone``."""
    return pd.to_datetime(seconds.astype("int64"), unit="s", utc=True).dt.tz_convert(zone)


def _local_midnights(days: pd.DatetimeIndex, zone: str) -> pd.DatetimeIndex:
    """Local dates (naive midnights) as the aware moment each day begins in ``zone``.

    Where a DST change falls at midnight, the day begins at the first moment it has: the
    earlier of two midnights, or the end of a skipped hour.
    """
    return days.tz_localize(zone, ambiguous=np.ones(len(days), dtype=bool), nonexistent="shift_forward")


def _all_buckets(f: AnalyticsFilter, zone: str) -> np.ndarray:
    """The start (``_bucket_starts``) of every local bucket of the period: quiet hours and days show as zero."""
    last = f.until - timedelta(microseconds=1)
    if f.bucket == "hour":
        return np.arange(hour_number(f.since), hour_number(last) + 1, dtype=np.int64) * 3600
    tz = ZoneInfo(zone)
    days = pd.date_range(f.since.astimezone(tz).date(), last.astimezone(tz).date(), freq="D")
    return _local_midnights(days, zone).as_unit("s").asi8


def bucket_labels(buckets: pd.Series, bucket: str) -> pd.Series:
    """How the charts name their buckets: ``2026-10-25`` for days, ``2026-10-25 01:00`` for hours.

    An hour whose local time comes twice (when the clocks go back) carries its UTC offset,
    ``2026-10-25 02:00 UTC+02:00`` and then ``2026-10-25 02:00 UTC+01:00``.
    """
    if bucket == "day":
        return buckets.dt.strftime("%Y-%m-%d")

    def label(stamp: pd.Timestamp) -> str:
        moment = stamp.to_pydatetime()
        wall = moment.replace(tzinfo=None)
        twice = wall.replace(tzinfo=moment.tzinfo, fold=0).utcoffset() != wall.replace(
            tzinfo=moment.tzinfo, fold=1).utcoffset()
        if not twice:
            return f"{wall:%Y-%m-%d %H:%M}"
        offset = moment.strftime("%z")
        return f"{wall:%Y-%m-%d %H:%M} UTC{offset[:3]}:{offset[3:]}"

    unique = pd.unique(buckets)
    return buckets.map(dict(zip(unique, (label(pd.Timestamp(stamp)) for stamp in unique))))


def _states_table(k: Kpis) -> pd.DataFrame:
    rows = [{"state": s.value, "label": s.label, "color": s.color, "messages": k.count(s),
             "share": k.count(s) / k.messages if k.messages else 0.0} for s in STATE_ORDER]
    return pd.DataFrame(rows)


def _over_time(state_hours: pd.DataFrame, f: AnalyticsFilter, zone: str) -> pd.DataFrame:
    columns = ["bucket", "time", "state", "label", "messages"]
    if not len(state_hours):
        return pd.DataFrame(columns=columns)
    frame = state_hours.assign(bucket=_bucket_starts(state_hours["hour"], zone, f.bucket))
    grouped = frame.groupby(["bucket", "state"])["messages"].sum()
    present = [s.value for s in STATE_ORDER if s.value in set(frame["state"])]
    index = pd.MultiIndex.from_product([_all_buckets(f, zone), present], names=["bucket", "state"])
    full = grouped.reindex(index, fill_value=0).reset_index()
    full["bucket"] = _as_local(full["bucket"], zone)
    full["messages"] = full["messages"].astype(int)
    full["label"] = full["state"].map(lambda s: MessageState(s).label)
    full["time"] = bucket_labels(full["bucket"], f.bucket)
    return full[columns]


def _histogram_table(latency: pd.DataFrame) -> pd.DataFrame:
    columns = ["lower", "upper", "messages", "cumulative_share"]
    if not len(latency):
        return pd.DataFrame(columns=columns)
    frame = latency.sort_values("bucket")
    bucket = frame["bucket"].to_numpy(dtype=float)
    counts = frame["messages"].to_numpy(dtype=int)
    return pd.DataFrame({"lower": np.exp(bucket / LATENCY_RESOLUTION), "upper": np.exp((bucket + 1) / LATENCY_RESOLUTION),
                         "messages": counts, "cumulative_share": np.cumsum(counts) / counts.sum()})


def _latency_over_time(latency_hours: pd.DataFrame, f: AnalyticsFilter, zone: str) -> pd.DataFrame:
    columns = ["bucket", "time", "messages", *(f"p{p}" for p in PERCENTILES)]
    if not len(latency_hours):
        return pd.DataFrame(columns=columns)
    coarse = latency_hours.assign(bucket_time=_bucket_starts(latency_hours["hour"], zone, f.bucket),
                                  coarse=latency_hours["bucket"].astype("int64") // TREND_COARSENING)
    histograms = coarse.groupby(["bucket_time", "coarse"])["messages"].sum()
    rows = []
    for when, histogram in histograms.groupby(level="bucket_time"):
        buckets = histogram.index.get_level_values("coarse").to_numpy(dtype=float)
        counts = histogram.to_numpy(dtype=float)
        rows.append({"bucket": when, "messages": int(counts.sum()),
                     **{f"p{p}": histogram_percentile(buckets, counts, p / 100, TREND_RESOLUTION) for p in PERCENTILES}})
    frame = pd.DataFrame(rows, columns=columns)
    frame["bucket"] = _as_local(frame["bucket"], zone)
    frame["time"] = bucket_labels(frame["bucket"], f.bucket)
    return frame


def dimension_label(dimension: str, value: Any, job_names: Mapping[int, str] | None = None) -> str:
    """How a value of a breakdown is shown: the priority's name, the job's name, '(none)'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(none)"
    if dimension == "priority":
        return f"{int(value)} · {PRIORITY_NAMES.get(int(value), '?')}"
    if dimension == "job_id":
        name = (job_names or {}).get(int(value))
        return f"#{int(value)} {name}" if name else f"#{int(value)}"
    return str(value)


def _breakdowns(frame: pd.DataFrame, job_names: Mapping[int, str]) -> dict[str, pd.DataFrame]:
    columns = ["value", "label", "messages", "delivered", "failed", "delivered_share"]
    if not len(frame):
        return {dimension: pd.DataFrame(columns=columns) for dimension in DIMENSIONS}
    state, count = frame["state"], frame["messages"]
    counts = pd.DataFrame({
        "messages": count,
        "delivered": count.where(state == MessageState.DELIVERED.value, 0),
        "failed": count.where(state.isin([s.value for s in FAILURE_STATES]), 0),
        "settled": count.where(~state.isin([s.value for s in UNSETTLED_STATES]), 0),
    })
    result: dict[str, pd.DataFrame] = {}
    for dimension in DIMENSIONS:
        grouped = counts.groupby(frame[dimension], dropna=False, sort=False).sum()
        numeric = dimension in ("priority", "job_id")
        values = [None if pd.isna(v) else (int(v) if numeric else v) for v in grouped.index]
        grouped = grouped.reset_index(drop=True).assign(
            value=values, label=[dimension_label(dimension, v, job_names) for v in values])
        settled = grouped["settled"].astype(float)
        grouped["delivered_share"] = np.where(settled > 0, grouped["delivered"] / settled.where(settled > 0, 1), np.nan)
        grouped = grouped.sort_values(["messages", "label"], ascending=[False, True])
        result[dimension] = grouped[columns].astype({"messages": int, "delivered": int, "failed": int}).reset_index(drop=True)
    return result


def _with_share(failing: pd.DataFrame, totals: pd.DataFrame, key: str) -> pd.DataFrame:
    """Failures of each number or prefix beside all its messages, in the order of the failures."""
    columns = [key, "failed", "messages", "failed_share"]
    if not len(failing):
        return pd.DataFrame(columns=columns)
    frame = failing.merge(totals, on=key, how="left")
    frame["failed_share"] = frame["failed"] / frame["messages"]
    return frame[columns].astype({"failed": int, "messages": int}).reset_index(drop=True)


# -- Drill-down -------------------------------------------------------------------------------


def matching_messages(store: Store, f: AnalyticsFilter, *, state: MessageState | None = None,
                      dimension: str | None = None, value: Any = None, phone_prefix: str | None = None,
                      limit: int = 200) -> pd.DataFrame:
    """The newest messages behind one part of a chart: a state, a breakdown's bar, a number or a prefix."""
    conditions = _conditions(f)
    if state is not None:
        conditions.append(_m.state == MessageState(state).value)
    if dimension is not None:
        if dimension not in DIMENSIONS:
            raise ValidationError(f"Cannot break down by {dimension!r}.", field="dimension")
        column = _m[dimension]
        conditions.append(column.is_(None) if value is None else column == value)
    if phone_prefix:
        conditions.append(_m.phone.startswith(phone_prefix, autoescape=True))
    query = (sa.select(_m.id, _m.submitted_at, _m.phone, _m.sender, _m.cost_center, _m.priority, _m.job_id,
                       _m.state, (_m.latency_ms / sa.literal(1000.0)).label("latency_s"), _m.error)
             .where(*conditions).order_by(_m.submitted_at.desc(), _m.id.desc()).limit(limit))
    with store.engine.connect() as connection:
        result = connection.execute(query)  # through SQLAlchemy: it reads submitted_at back as a datetime
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
