"""Aggregations for the analytics page and ``python -m smslib stats``, computed in the database.

Nothing here loads message rows into memory: every query GROUPs BY in SQL and returns a
few thousand rows at most, whatever the store holds.

- Time buckets: the database groups by the UTC hour of ``submitted_at``; hours are
  rolled up to the viewer's local hours or days here. Days in zones whose offset is a
  whole number of hours (Europe/Warsaw and most others) are therefore exact, across DST.
- Latency (``delivered_at - accepted_at``, both the gateway's clock) of delivered
  messages is bucketed in SQL on a log scale, ``LATENCY_RESOLUTION`` buckets per unit of
  ln(seconds) (1 % wide); percentiles are interpolated inside the bucket, so they are
  within 1 % of the exact ones.
- The few expressions that differ between SQLite and PostgreSQL are SQLAlchemy
  constructs compiled per dialect at the top of this module; the queries themselves
  are the same Core code for both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from .errors import ValidationError
from .models import PRIORITY_NAMES, Channel, MessageState
from .store import Store, jobs, messages

LATENCY_RESOLUTION = 100   # log buckets per unit of ln(seconds): each is exp(1/100) - 1 ≈ 1 % wide
TREND_RESOLUTION = 20      # coarser buckets (5 %) for the percentiles of each time bucket
SHORTEST_LATENCY = 0.001   # seconds; a latency of 0 (or a skewed negative one) counts as 1 ms
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


# -- Dialect-specific -------------------------------------------------------------------------


def _dialect_function(name: str, type_: sa.types.TypeEngine[Any], doc: str, **templates: str) -> type:
    """A SQL function of one or more arguments written differently per dialect ({0}: the arguments)."""
    construct = type(name, (FunctionElement,), {"type": type_, "inherit_cache": True, "__doc__": doc})
    for dialect, template in templates.items():
        compiles(construct, dialect)(
            lambda element, compiler, _t=template, **kw: _t.format(compiler.process(element.clauses, **kw)))
    return construct


_epoch_seconds = _dialect_function(
    "_epoch_seconds", sa.Float(), "Seconds since 1970 of a stored UTC time, as a float.",
    sqlite="((julianday({0}) - 2440587.5) * 86400.0)", postgresql="EXTRACT(EPOCH FROM {0})")
# SQLAlchemy stores SQLite times as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff': the hour is a prefix.
_utc_hour = _dialect_function(
    "_utc_hour", sa.String(), "The UTC hour of a stored time as text, 'YYYY-MM-DD HH'.",
    sqlite="substr({0}, 1, 13)", postgresql="to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')")
_greatest = _dialect_function(
    "_greatest", sa.Float(), "The larger of two numbers.", sqlite="max({0})", postgresql="greatest({0})")


def _ensure_ln(connection: sa.Connection) -> None:
    """SQLite builds without the math functions get ``ln`` from Python (slower, same answers)."""
    if connection.dialect.name != "sqlite":
        return
    try:
        connection.exec_driver_sql("SELECT ln(2.0)").scalar()
    except sa.exc.OperationalError:
        connection.connection.driver_connection.create_function("ln", 1, _python_ln, deterministic=True)


def _python_ln(value: float | None) -> float | None:
    return math.log(value) if value is not None and value > 0 else None


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
        for key, value in (("sender", self.sender), ("cost_center", self.cost_center), ("priority", self.priority),
                           ("job", self.job_id)):
            if value is not None:
                params[key] = str(value)
        if self.flash is not None:
            params["flash"] = "true" if self.flash else "false"
        if self.channel is not None:
            params["channel"] = self.channel.value
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> View:
        """The view a URL describes; a value that makes no sense is ignored (a shared link stays usable)."""
        def text(key: str) -> str | None:
            value = params.get(key)
            return value.strip() or None if isinstance(value, str) else None

        range_name = text("range") or "7d"
        if range_name not in RANGES:
            range_name = "7d"
        start, end = _date(text("from")), _date(text("to"))
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


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


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
    over_time: pd.DataFrame          # bucket (local, naive), state, label, messages
    latency_histogram: pd.DataFrame  # lower, upper (seconds), messages, cumulative_share
    latency_over_time: pd.DataFrame  # bucket, messages, p50, p90, p95, p99
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
_LATENCY = _epoch_seconds(_m.delivered_at) - _epoch_seconds(_m.accepted_at)
_PREFIX = sa.func.substr(_m.phone, sa.literal_column("1"), sa.literal_column(str(PREFIX_LENGTH)))
_IS_FAILURE = _m.state.in_([s.value for s in FAILURE_STATES])


def _conditions(f: AnalyticsFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_m.submitted_at >= f.since, _m.submitted_at < f.until]
    exact = {_m.sender: f.sender, _m.cost_center: f.cost_center, _m.priority: f.priority, _m.flash: f.flash,
             _m.job_id: f.job_id, _m.channel: f.channel.value if f.channel is not None else None}
    conditions.extend(column == value for column, value in exact.items() if value is not None)
    return conditions


def _latency_bucket(resolution: int) -> ColumnElement[int]:
    # Constants are written into the SQL, not bound, so that an index on this expression can serve it.
    shortest, scale = sa.literal_column(repr(SHORTEST_LATENCY)), sa.literal_column(str(int(resolution)))
    return sa.cast(sa.func.floor(sa.func.ln(_greatest(_LATENCY, shortest)) * scale), sa.Integer)


def _delivered(f: AnalyticsFilter) -> list[ColumnElement[bool]]:
    return [*_conditions(f), _m.state == MessageState.DELIVERED.value,
            _m.delivered_at.is_not(None), _m.accepted_at.is_not(None)]


def _state_hours_query(f: AnalyticsFilter) -> sa.Select[Any]:
    hour = _utc_hour(_m.submitted_at).label("hour")
    return (sa.select(hour, _m.state, sa.func.count().label("messages"),
                      sa.func.coalesce(sa.func.sum(_m.segments), 0).label("segments"))
            .where(*_conditions(f)).group_by(hour, _m.state))


def _state_totals_query(f: AnalyticsFilter) -> sa.Select[Any]:
    return (sa.select(_m.state, sa.func.count().label("messages"),
                      sa.func.coalesce(sa.func.sum(_m.segments), 0).label("segments"))
            .where(*_conditions(f)).group_by(_m.state))


def _latency_query(f: AnalyticsFilter) -> sa.Select[Any]:
    bucket = _latency_bucket(LATENCY_RESOLUTION).label("bucket")
    return sa.select(bucket, sa.func.count().label("messages")).where(*_delivered(f)).group_by(bucket)


def _latency_hours_query(f: AnalyticsFilter) -> sa.Select[Any]:
    hour = _utc_hour(_m.submitted_at).label("hour")
    bucket = _latency_bucket(TREND_RESOLUTION).label("bucket")
    return (sa.select(hour, bucket, sa.func.count().label("messages"))
            .where(*_delivered(f)).group_by(hour, bucket))


def _breakdown_query(f: AnalyticsFilter) -> sa.Select[Any]:
    keys = (_m.sender, _m.cost_center, _m.priority, _m.job_id)
    delivered = sa.func.sum(sa.case((_m.state == MessageState.DELIVERED.value, 1), else_=0))
    failed = sa.func.sum(sa.case((_IS_FAILURE, 1), else_=0))
    settled = sa.func.sum(sa.case((_m.state.in_([s.value for s in UNSETTLED_STATES]), 0), else_=1))
    return (sa.select(*keys, sa.func.count().label("messages"), delivered.label("delivered"),
                      failed.label("failed"), settled.label("settled"))
            .where(*_conditions(f)).group_by(*keys))


def _failing_numbers_query(f: AnalyticsFilter) -> sa.Select[Any]:
    failed = sa.func.count().label("failed")
    return (sa.select(_m.phone, failed).where(*_conditions(f), _IS_FAILURE)
            .group_by(_m.phone).order_by(failed.desc(), _m.phone).limit(TOP))


def _phone_totals_query(f: AnalyticsFilter, phones: Sequence[str]) -> sa.Select[Any]:
    # coalesce() keeps the planner on the period's index: the most failing numbers are often the
    # busiest ones, and walking their whole history through the phone index costs more.
    return (sa.select(_m.phone, sa.func.count().label("messages"))
            .where(*_conditions(f), sa.func.coalesce(_m.phone, "").in_(list(phones))).group_by(_m.phone))


def _prefix_query(f: AnalyticsFilter) -> sa.Select[Any]:
    prefix = _PREFIX.label("prefix")
    failed = sa.func.sum(sa.case((_IS_FAILURE, 1), else_=0)).label("failed")
    return sa.select(prefix, sa.func.count().label("messages"), failed).where(*_conditions(f)).group_by(prefix)


def _job_names(connection: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = connection.execute(sa.select(jobs.c.id, jobs.c.name).where(jobs.c.id.in_(list(ids)[:1000])))
    return {row.id: row.name for row in rows}


def _frame(connection: sa.Connection, query: sa.Select[Any]) -> pd.DataFrame:
    result = connection.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


# -- Computation ------------------------------------------------------------------------------


def kpis(store: Store, f: AnalyticsFilter) -> Kpis:
    """The headline numbers of one period (what ``python -m smslib stats`` prints)."""
    with store.engine.connect() as connection:
        _ensure_ln(connection)
        totals = _frame(connection, _state_totals_query(f))
        latency = _frame(connection, _latency_query(f))
    return _kpis(totals, latency)


def overview(store: Store, f: AnalyticsFilter, zone: str, *, workers: int = 2) -> Overview:
    """Everything the page shows for ``f``, with days and hours in time zone ``zone``.

    The independent queries run side by side on their own connections (the database
    does the work; SQLite's driver lets go of the GIL while it runs a query).
    """
    previous = f.previous()
    queries: dict[str, sa.Select[Any]] = {
        "state_hours": _state_hours_query(f),
        "latency": _latency_query(f),
        "latency_hours": _latency_hours_query(f),
        "breakdown": _breakdown_query(f),
        "failing": _failing_numbers_query(f),
        "prefixes": _prefix_query(f),
        "previous_totals": _state_totals_query(previous),
        "previous_latency": _latency_query(previous),
    }
    frames = _run_all(store, queries, workers)
    with store.engine.connect() as connection:
        phone_totals = (_frame(connection, _phone_totals_query(f, frames["failing"]["phone"].tolist()))
                        if len(frames["failing"]) else pd.DataFrame(columns=["phone", "messages"]))
        job_ids = [int(j) for j in frames["breakdown"]["job_id"].dropna().unique()]
        job_names = _job_names(connection, job_ids)

    state_hours = frames["state_hours"]
    totals = (state_hours.groupby("state", as_index=False)[["messages", "segments"]].sum()
              if len(state_hours) else pd.DataFrame(columns=["state", "messages", "segments"]))
    current = _kpis(totals, frames["latency"])
    return Overview(
        filter=f, zone=zone, kpis=current, previous=_kpis(frames["previous_totals"], frames["previous_latency"]),
        states=_states_table(current),
        over_time=_over_time(state_hours, f, zone),
        latency_histogram=_histogram_table(frames["latency"]),
        latency_over_time=_latency_over_time(frames["latency_hours"], f, zone),
        breakdowns=_breakdowns(frames["breakdown"], job_names),
        failing_numbers=_failing_numbers(frames["failing"], phone_totals),
        failing_prefixes=_failing_prefixes(frames["prefixes"]),
    )


def _run_all(store: Store, queries: dict[str, sa.Select[Any]], workers: int) -> dict[str, pd.DataFrame]:
    def run(query: sa.Select[Any]) -> pd.DataFrame:
        with store.engine.connect() as connection:
            _ensure_ln(connection)
            return _frame(connection, query)

    if workers <= 1:
        return {name: run(query) for name, query in queries.items()}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analytics") as pool:
        futures = {name: pool.submit(run, query) for name, query in queries.items()}
        return {name: future.result() for name, future in futures.items()}


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


def _local_buckets(hours: pd.Series, zone: str, bucket: str) -> pd.Series:
    """UTC 'YYYY-MM-DD HH' texts as the start of their local hour or day (naive, local time)."""
    stamps = pd.to_datetime(hours, format="%Y-%m-%d %H", utc=True).dt.tz_convert(zone)
    if bucket == "day":
        stamps = stamps.dt.normalize()
    return stamps.dt.tz_localize(None)


def _all_buckets(f: AnalyticsFilter, zone: str) -> pd.DatetimeIndex:
    """Every local bucket of the period, so that quiet hours and days show as zero."""
    tz = ZoneInfo(zone)
    if f.bucket == "hour":
        first = pd.Timestamp(f.since).floor("h")
        stamps = pd.date_range(first, pd.Timestamp(f.until - timedelta(microseconds=1)).floor("h"), freq="h")
        return pd.DatetimeIndex(stamps.tz_convert(zone).tz_localize(None)).unique()
    first_day = f.since.astimezone(tz).date()
    last_day = (f.until - timedelta(microseconds=1)).astimezone(tz).date()
    return pd.DatetimeIndex(pd.date_range(first_day, last_day, freq="D"))


def _states_table(k: Kpis) -> pd.DataFrame:
    rows = [{"state": s.value, "label": s.label, "color": s.color, "messages": k.count(s),
             "share": k.count(s) / k.messages if k.messages else 0.0} for s in STATE_ORDER]
    return pd.DataFrame(rows)


def _over_time(state_hours: pd.DataFrame, f: AnalyticsFilter, zone: str) -> pd.DataFrame:
    columns = ["bucket", "state", "label", "messages"]
    if not len(state_hours):
        return pd.DataFrame(columns=columns)
    frame = state_hours.assign(bucket=_local_buckets(state_hours["hour"], zone, f.bucket))
    grouped = frame.groupby(["bucket", "state"])["messages"].sum()
    present = [s.value for s in STATE_ORDER if s.value in set(frame["state"])]
    index = pd.MultiIndex.from_product([_all_buckets(f, zone), present], names=["bucket", "state"])
    full = grouped.reindex(index, fill_value=0).reset_index()
    full["messages"] = full["messages"].astype(int)
    full["label"] = full["state"].map(lambda s: MessageState(s).label)
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
    columns = ["bucket", "messages", *(f"p{p}" for p in PERCENTILES)]
    if not len(latency_hours):
        return pd.DataFrame(columns=columns)
    frame = latency_hours.assign(bucket_time=_local_buckets(latency_hours["hour"], zone, f.bucket))
    rows = []
    for when, group in frame.groupby("bucket_time"):
        histogram = group.groupby("bucket")["messages"].sum()
        buckets, counts = histogram.index.to_numpy(dtype=float), histogram.to_numpy(dtype=float)
        rows.append({"bucket": when, "messages": int(counts.sum()),
                     **{f"p{p}": histogram_percentile(buckets, counts, p / 100, TREND_RESOLUTION) for p in PERCENTILES}})
    return pd.DataFrame(rows, columns=columns)


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


_NONE = "\0none"  # the group of messages without a value (NULL)


def _breakdowns(frame: pd.DataFrame, job_names: Mapping[int, str]) -> dict[str, pd.DataFrame]:
    columns = ["value", "label", "messages", "delivered", "failed", "delivered_share"]
    result: dict[str, pd.DataFrame] = {}
    for dimension in DIMENSIONS:
        if not len(frame):
            result[dimension] = pd.DataFrame(columns=columns)
            continue
        numeric = dimension in ("priority", "job_id")
        keys = [_NONE if pd.isna(v) else (int(v) if numeric else v) for v in frame[dimension].tolist()]
        grouped = (frame.assign(key=keys).groupby("key", sort=False)[["messages", "delivered", "failed", "settled"]]
                   .sum().reset_index())
        grouped["value"] = [None if key == _NONE else key for key in grouped["key"]]
        grouped["label"] = [dimension_label(dimension, v, job_names) for v in grouped["value"]]
        settled = grouped["settled"].astype(float)
        grouped["delivered_share"] = np.where(settled > 0, grouped["delivered"] / settled.where(settled > 0, 1), np.nan)
        grouped = grouped.sort_values(["messages", "label"], ascending=[False, True])
        result[dimension] = grouped[columns].astype({"messages": int, "delivered": int, "failed": int}).reset_index(drop=True)
    return result


def _failing_numbers(failing: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    columns = ["phone", "failed", "messages", "failed_share"]
    if not len(failing):
        return pd.DataFrame(columns=columns)
    frame = failing.merge(totals, on="phone", how="left")
    frame["failed_share"] = frame["failed"] / frame["messages"]
    return frame[columns].astype({"failed": int, "messages": int}).reset_index(drop=True)


def _failing_prefixes(prefixes: pd.DataFrame) -> pd.DataFrame:
    columns = ["prefix", "failed", "messages", "failed_share"]
    frame = prefixes[prefixes["failed"] > 0] if len(prefixes) else prefixes
    if not len(frame):
        return pd.DataFrame(columns=columns)
    frame = frame.assign(failed_share=frame["failed"] / frame["messages"])
    frame = frame.sort_values(["failed", "prefix"], ascending=[False, True]).head(TOP)
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
                       _m.state, _m.accepted_at, _m.delivered_at, _m.error)
             .where(*conditions).order_by(_m.submitted_at.desc(), _m.id.desc()).limit(limit))
    with store.engine.connect() as connection:
        frame = _frame(connection, query)
    if len(frame):
        latency = (pd.to_datetime(frame["delivered_at"], utc=True) - pd.to_datetime(frame["accepted_at"], utc=True))
        frame["latency_s"] = latency.dt.total_seconds()
        frame = frame.drop(columns=["accepted_at", "delivered_at"])
    return frame
