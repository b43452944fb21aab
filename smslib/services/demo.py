"""Demo data: realistic sends over the last days, and their reports, in bulk.

``seed_demo_data`` writes messages (with jobs, reports and the report log) into the
store, and the same messages into the sandbox gateway's state database, so the ids
match: a report still due is fetched by the next sync like any other. Everything is
drawn with numpy from the sandbox simulation's distributions (status shares, the
log-normal delay with its median and p99, the priority speed-up, the per-status delay
factor, the magic endings) and written with executemany in large chunks, so a million
messages take about a minute.
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from statistics import NormalDist
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa

from smslib.core.models import Channel, MessageState
from smslib.sandbox.backend import INSERT_MESSAGE, SandboxBackend, SandboxConfig
from smslib.sandbox.simulation import (
    LONGEST_DELAY,
    MAGIC_ENDINGS,
    NEVER,
    PRIORITY_SPEEDUP,
    STATUS_DELAY_FACTOR,
    STATUSES,
)
from smslib.store import JobState, Store, jobs, latency_bucket, messages, report_log
from smslib.rules.text import count_segments

CHUNK = 50_000  # rows per executemany

SENDERS = ("ACME", "ACME Alerts", "ShopPL", "48500100200")
SENDER_WEIGHTS = (0.45, 0.25, 0.2, 0.1)
TEXTS = (
    "Your code is {n}. It expires in 10 minutes.",
    "Your parcel {n} is on its way and arrives tomorrow between 9:00 and 17:00.",
    "Reminder: your appointment is tomorrow at 10:30. Reply NO to cancel.",
    "Dziękujemy za zamówienie {n}! Płatność została przyjęta, paczka wyjdzie jutro.",
    "Spring sale: -30% on everything until Sunday. Show this SMS at the till or use code "
    "SPRING30 online. Terms and conditions at acme.example/terms, unsubscribe: reply STOP. "
    "Valid in all stores across the country while stocks last.",
)
TEXT_WEIGHTS = (0.35, 0.25, 0.2, 0.1, 0.1)
PRIORITIES = (-1, 0, 1, 2, 3)  # -1: not set
PRIORITY_WEIGHTS = (0.5, 0.15, 0.15, 0.12, 0.08)
# Local hour-of-day profile of sending (index 0 = midnight); weekends send less.
HOUR_PROFILE = np.array([1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 15, 14, 15, 15, 14, 13, 12, 10, 8, 6, 4, 2, 1], float)
WEEKEND_FACTOR = 0.4
BULK_SHARE = 0.6       # messages sent by bulk jobs
FAILED_SHARE = 0.004   # refused by the gateway: no message id
UNCERTAIN_SHARE = 0.0005
BAD_NUMBER_SHARE = 0.002   # recipients whose numbers mostly fail (switched off, ported away)
BAD_PREFIX = "+48791"      # an operator range with a bad day: more expiries
BAD_PREFIX_SHARE = 0.03


@dataclass(frozen=True)
class SeedResult:
    """What ``seed_demo_data`` wrote."""

    messages: int
    reports: int
    pending: int
    jobs: int
    seconds: float


def seed_demo_data(
    store: Store,
    sandbox_db: str | Path | None,
    *,
    messages_count: int,
    days: float = 30.0,
    now: datetime | None = None,
    seed: int | None = None,
    config: SandboxConfig | None = None,
    phone_format: str = "digits",
    chunk: int = CHUNK,
) -> SeedResult:
    """Write ``messages_count`` demo messages sent over the last ``days`` days.

    Reports already due by ``now`` are applied (and logged) in the store and marked read
    in the sandbox; the others stay pending in both, so the sync picks them up when they
    fall due. ``sandbox_db`` None writes the store only (then the ids match no gateway).
    """
    if messages_count < 1:
        raise ValueError(f"seed at least one message, not {messages_count}")
    if days <= 0:
        raise ValueError(f"days must be positive, not {days}")
    started = time.perf_counter()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    config = config or SandboxConfig()
    rng = np.random.default_rng(seed)
    frame, job_rows = _draw(rng, messages_count, days, now, config)
    sandbox_rows = _sandbox_rows(sandbox_db, frame, now, phone_format) if sandbox_db is not None else None
    job_ids = _write_store(store, frame, job_rows, now, chunk)
    if sandbox_rows is not None:
        _write_sandbox(sandbox_db, sandbox_rows, chunk)
    reported = int(frame["reported"].sum())
    pending = int((frame["state"] == MessageState.PENDING.value).sum())
    return SeedResult(messages=len(frame), reports=reported, pending=pending, jobs=len(job_ids),
                      seconds=time.perf_counter() - started)


# -- drawing -----------------------------------------------------------------------------------


def _draw(rng: np.random.Generator, n: int, days: float, now: datetime,
          config: SandboxConfig) -> tuple[pd.DataFrame, list[dict]]:
    start = now - timedelta(days=days)
    submitted, job_index, job_rows = _times_and_jobs(rng, n, start, now)
    order = np.argsort(submitted, kind="stable")
    submitted, job_index = submitted[order], job_index[order]

    phones = _phones(rng, n)
    channel = np.where(rng.random(n) < 0.1, Channel.SIMPLEAPI.value, Channel.SMSES.value)
    channel[job_index >= 0] = Channel.SMSES.value  # bulk jobs use /Smses
    simple = channel == Channel.SIMPLEAPI.value
    priority = rng.choice(np.array(PRIORITIES), size=n, p=PRIORITY_WEIGHTS)
    flash = rng.random(n) < 0.03
    cost_centers = np.array(config.cost_centers or ("",), dtype=object)
    cost_center = cost_centers[rng.integers(0, len(cost_centers), n)]
    cost_center[rng.random(n) < 0.15] = None
    sender = np.array(SENDERS, dtype=object)[rng.choice(len(SENDERS), size=n, p=SENDER_WEIGHTS)]
    cost_center[simple] = None  # /SimpleApi takes no cost centre, priority or flash
    priority[simple] = -1
    flash_value = np.where(simple, None, flash).astype(object)

    text_index = rng.choice(len(TEXTS), size=n, p=TEXT_WEIGHTS)
    codes = rng.integers(100000, 999999, n)
    text = np.array([TEXTS[t].replace("{n}", str(c)) for t, c in zip(text_index, codes)], dtype=object)
    shapes = [count_segments(t.replace("{n}", "123456")) for t in TEXTS]
    segments = np.array([s.segments for s in shapes])[text_index]
    encoding = np.array([s.encoding for s in shapes], dtype=object)[text_index]

    status, delay = _outcomes(rng, phones, priority, config)
    accepted = submitted + rng.uniform(0.05, 0.6, n)  # the gateway's clock, a moment after sending
    due = accepted + delay  # NaN: never reported
    outcome = rng.random(n)
    failed = outcome < FAILED_SHARE
    uncertain = (outcome >= FAILED_SHARE) & (outcome < FAILED_SHARE + UNCERTAIN_SHARE)
    sent = ~(failed | uncertain)
    reported = sent & (due <= now.timestamp())
    state_by_status = {s: MessageState.from_status(s).value for s in STATUSES}
    state = np.full(n, MessageState.PENDING.value, dtype=object)
    for code, name in state_by_status.items():
        state[reported & (status == code)] = name
    state[failed] = MessageState.FAILED.value
    state[uncertain] = MessageState.UNCERTAIN.value

    message_id = _ids(rng, accepted)
    report_id = _ids(rng, np.nan_to_num(due, nan=accepted))
    message_id[~sent] = None
    frame = pd.DataFrame({
        "message_id": message_id, "report_id": report_id, "phone": phones, "text": text, "sender": sender,
        "priority": priority, "flash": flash_value, "cost_center": cost_center, "channel": channel,
        "job_index": job_index, "segments": segments, "encoding": encoding, "submitted": submitted,
        "accepted": accepted, "due": due, "status": status, "state": state, "sent": sent, "reported": reported,
    })
    return frame, job_rows


def _ids(rng: np.random.Generator, epoch: np.ndarray) -> np.ndarray:
    """16-hex-digit ids like the sandbox's, led by the time in ms so that the index grows at its end."""
    millis = (epoch * 1000).astype(np.int64)
    noise = (int(rng.integers(0, 16**5)) + np.arange(len(epoch))) % 16**5  # distinct within a ms
    return np.array([f"{m:011x}{r:05x}" for m, r in zip(millis.tolist(), noise.tolist())], dtype=object)


def _times_and_jobs(rng: np.random.Generator, n: int, start: datetime,
                    now: datetime) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Send times (epoch seconds) following the working-day profile, and each one's job (-1: none)."""
    zone = ZoneInfo("Europe/Warsaw")
    first_hour = int(start.timestamp() // 3600)
    last_hour = int(math.ceil(now.timestamp() / 3600))
    hours = np.arange(first_hour, last_hour)
    local = pd.DatetimeIndex(pd.to_datetime(hours * 3600, unit="s", utc=True)).tz_convert(zone)
    weights = HOUR_PROFILE[local.hour.to_numpy()] * np.where(local.day_of_week.to_numpy() >= 5, WEEKEND_FACTOR, 1.0)
    chosen = rng.choice(hours, size=n, p=weights / weights.sum())
    times = (chosen * 3600 + rng.uniform(0, 3600, n)).astype(float)

    bulk = rng.random(n) < BULK_SHARE
    job_count = int(min(60, max(1, n // 20_000))) if bulk.any() else 0
    job_index = np.full(n, -1)
    job_rows: list[dict] = []
    if job_count:
        job_starts = rng.choice(hours[weights > weights.mean()], size=job_count) * 3600.0 + rng.uniform(0, 1800, job_count)
        job_index[bulk] = rng.integers(0, job_count, int(bulk.sum()))
        # A job's messages go out over about an hour from its start.
        times[bulk] = job_starts[job_index[bulk]] + rng.uniform(0, 3600, int(bulk.sum()))
        for k, job_start in enumerate(job_starts):
            when = datetime.fromtimestamp(job_start, UTC)
            job_rows.append({"name": f"Campaign {when.astimezone(zone):%Y-%m-%d %H:%M}", "created_at": when,
                             "source_filename": f"campaign-{k + 1}.xlsx"})
    times = np.minimum(times, now.timestamp() - 1.0)
    return times, job_index, job_rows


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """E.164 Polish mobile numbers: a pool of recipients, some of them far more often than others."""
    pool_size = max(10, n // 4)
    leading = rng.choice(np.array([50, 51, 53, 57, 60, 66, 69, 72, 73, 78, 79, 88]), size=pool_size)
    rest = rng.integers(0, 10_000_000, pool_size)
    pool = np.array([f"+48{a}{b:07d}" for a, b in zip(leading, rest)], dtype=object)
    bad = rng.random(pool_size) < BAD_PREFIX_SHARE
    pool[bad] = [BAD_PREFIX + p[6:] for p in pool[bad]]
    # Zipf-like popularity: a few numbers (staff, test phones) receive many messages.
    pick = np.minimum(rng.zipf(1.3, n) - 1, pool_size - 1)
    pick = np.where(rng.random(n) < 0.5, pick, rng.integers(0, pool_size, n))
    return pool[pick]


def _outcomes(rng: np.random.Generator, phones: np.ndarray, priority: np.ndarray,
              config: SandboxConfig) -> tuple[np.ndarray, np.ndarray]:
    """Status and report delay as the sandbox draws them (simulation.DeliverySimulator), vectorised."""
    n = len(phones)
    shares = np.array(config.shares, float) / sum(config.shares)
    status = np.array(STATUSES)[rng.choice(len(STATUSES), size=n, p=shares)]
    prefix = np.fromiter((p.startswith(BAD_PREFIX) for p in phones), bool, count=n)
    status[prefix & (rng.random(n) < 0.25)] = -2
    unique = np.unique(phones)
    bad_numbers = unique[rng.random(len(unique)) < BAD_NUMBER_SHARE]
    bad = np.isin(phones, bad_numbers)
    status[bad & (rng.random(n) < 0.8)] = -1
    never = np.zeros(n, bool)
    endings = np.array([p[-4:] for p in phones], dtype=object)
    for ending, fate in MAGIC_ENDINGS.items():
        hit = endings == ending
        if fate == NEVER:
            never |= hit
        else:
            status[hit] = fate
    sigma = math.log(config.p99_latency / config.median_latency) / NormalDist().inv_cdf(0.99)
    speedup = np.array([PRIORITY_SPEEDUP[None if p < 0 else str(p)] for p in range(-1, 4)])[priority + 1]
    factor = np.select([status == s for s in STATUSES], [STATUS_DELAY_FACTOR[s] for s in STATUSES])
    delay = config.median_latency * np.exp(sigma * rng.standard_normal(n)) * speedup
    delay = np.minimum(delay * factor, LONGEST_DELAY)
    delay[never] = np.nan
    return status, delay


# -- writing -----------------------------------------------------------------------------------


def _write_store(store: Store, frame: pd.DataFrame, job_rows: list[dict], now: datetime, chunk: int) -> list[int]:
    with store.atomic() as connection:
        if connection.dialect.name == "sqlite":
            # A bigger page cache for this connection: the indexes of a million rows fit in it.
            connection.exec_driver_sql("PRAGMA cache_size = -262144")
        job_ids = [connection.execute(jobs.insert().values(
            name=row["name"], source_filename=row["source_filename"], created_by="demo",
            created_at=row["created_at"], updated_at=row["created_at"], settings="{}",
            state=JobState.DONE.value)).inserted_primary_key[0] for row in job_rows]
        job_lookup = np.array([None, *job_ids], dtype=object)
        for begin in range(0, len(frame), chunk):
            part = frame.iloc[begin: begin + chunk]
            _bulk_insert(connection, messages, _message_columns(part, job_lookup))
            reported = part[part["reported"]]
            if len(reported):
                _bulk_insert(connection, report_log, _report_columns(reported, now))
        if job_ids:
            counted = (sa.select(sa.func.count()).select_from(messages)
                       .where(messages.c.job_id == jobs.c.id).scalar_subquery())
            accepted = (sa.select(sa.func.count()).select_from(messages)
                        .where(messages.c.job_id == jobs.c.id, messages.c.message_id.is_not(None)).scalar_subquery())
            connection.execute(sa.update(jobs).where(jobs.c.id.in_(job_ids))
                               .values(total=counted, accepted=accepted, failed=counted - accepted))
    return job_ids


def _message_columns(part: pd.DataFrame, job_lookup: np.ndarray) -> dict[str, Any]:
    n = len(part)
    sent = part["sent"].to_numpy()
    reported = part["reported"].to_numpy()
    priority = part["priority"].to_numpy()
    state = part["state"].to_numpy()
    error = np.where(sent, None, np.where(state == MessageState.FAILED.value,
                                          "The gateway refused the request (demo data).",
                                          "No answer from the gateway (demo data)."))
    return {
        "message_id": _values(part["message_id"]), "phone": _values(part["phone"]), "text": _values(part["text"]),
        "sender": _values(part["sender"]), "priority": np.where(priority < 0, None, priority).tolist(),
        "flash": _values(part["flash"]), "cost_center": _values(part["cost_center"]),
        "channel": _values(part["channel"]), "job_id": job_lookup[part["job_index"].to_numpy() + 1].tolist(),
        "segments": part["segments"].tolist(), "encoding": _values(part["encoding"]), "sent_by": ["demo"] * n,
        "submitted_at": _Times(part["submitted"].to_numpy()),
        **_derived_columns(part["submitted"].to_numpy(), np.where(sent, part["accepted"].to_numpy(), np.nan),
                           np.where(reported, part["due"].to_numpy(), np.nan)),
        "accepted_at": _Times(np.where(sent, part["accepted"].to_numpy(), np.nan)),
        "state": state.tolist(),
        "status_code": np.where(reported, part["status"].to_numpy(), None).tolist(),
        "delivered_at": _Times(np.where(reported, part["due"].to_numpy(), np.nan)),
        "report_id": np.where(reported, part["report_id"].to_numpy(), None).tolist(),
        "error": error.tolist(),
    }


def _derived_columns(submitted: np.ndarray, accepted: np.ndarray, delivered: np.ndarray) -> dict[str, list[Any]]:
    """The store's derived columns, from the times exactly as they are stored (whole microseconds)."""
    submitted_us, accepted_us, delivered_us = (_stored_micros(t) for t in (submitted, accepted, delivered))
    hours = np.floor_divide(submitted_us, 3_600_000_000)
    known = ~(np.isnan(accepted_us) | np.isnan(delivered_us))
    # np.rint rounds halves to even, as Python's round() in store.latency_milliseconds does.
    latency = np.rint((delivered_us - accepted_us) / 1000.0)
    latency_ms = [int(v) if ok else None for v, ok in zip(latency.tolist(), known.tolist())]
    return {"submitted_hour": hours.astype(np.int64).tolist(), "latency_ms": latency_ms,
            "latency_bucket": [latency_bucket(v) for v in latency_ms]}


def _stored_micros(epoch: np.ndarray) -> np.ndarray:
    """Epoch seconds as the microseconds _driver_times stores (NaN: none), as floats (exact below 2**53)."""
    stamps = pd.Series(pd.to_datetime(epoch, unit="s", utc=True)).dt.floor("us")
    return np.where(stamps.isna().to_numpy(), np.nan, stamps.to_numpy(dtype="datetime64[us]").astype(np.int64))


def _report_columns(reported: pd.DataFrame, now: datetime) -> dict[str, Any]:
    n = len(reported)
    return {
        "report_id": _values(reported["report_id"]), "message_id": _values(reported["message_id"]),
        "phone": _values(reported["phone"]), "status": reported["status"].tolist(),
        "delivery_time": _Times(reported["due"].to_numpy()),
        "received_at": _Times(np.full(n, now.timestamp())), "linked": [True] * n,
    }


def _values(column: pd.Series) -> list[Any]:
    """A column as Python values with None for missing ones (pandas' NaN would reach PostgreSQL as 'NaN')."""
    values = column.to_numpy(dtype=object)
    return [None if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA
            else value for value in values]


@dataclass(frozen=True)
class _Times:
    """A column of times as epoch seconds (NaN: none), converted the way the database stores them."""

    epoch: np.ndarray


def _bulk_insert(connection: sa.Connection, table: sa.Table, columns: dict[str, Any]) -> None:
    """One executemany of ``columns`` into ``table`` with values already in the driver's form.

    The same as ``connection.execute(table.insert(), rows)``, minus SQLAlchemy's per-value
    work, which would take longer than the database itself for a million rows.
    """
    dialect = connection.dialect
    keys = list(columns)
    compiled = table.insert().compile(dialect=dialect, column_keys=keys)
    values = []
    for key in keys:
        column = columns[key]
        processor = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(column, _Times):
            column = _driver_times(column.epoch, processor)
        elif processor is not None:
            column = [processor(value) for value in column]
        values.append(column)
    if compiled.positional:
        order = [keys.index(name) for name in compiled.positiontup]
        rows: list[Any] = list(zip(*(values[i] for i in order)))
    else:
        rows = [dict(zip(keys, row)) for row in zip(*values)]
    connection.exec_driver_sql(str(compiled), rows)


def _driver_times(epoch: np.ndarray, processor: Any) -> list[Any]:
    """Epoch seconds as the database driver takes them; SQLite's text form is built vectorised."""
    stamps = pd.Series(pd.to_datetime(epoch, unit="s", utc=True)).dt.floor("us")
    missing = stamps.isna().to_numpy()
    if processor is not None and len(stamps) and not missing.all():
        sample = int(np.flatnonzero(~missing)[0])
        expected = processor(stamps.iloc[sample].to_pydatetime())
        if isinstance(expected, str):
            text = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            if text.iloc[sample] == expected:
                return np.where(missing, None, text.to_numpy(dtype=object)).tolist()
    python = stamps.dt.to_pydatetime() if hasattr(stamps.dt, "to_pydatetime") else stamps.tolist()
    result = [None if gone else value for gone, value in zip(missing, python)]
    if processor is not None:
        result = [None if value is None else processor(value) for value in result]
    return result


def _sandbox_rows(path: str | Path, frame: pd.DataFrame, now: datetime, phone_format: str) -> list[tuple]:
    sent = frame[frame["sent"]]
    with SandboxBackend(SandboxConfig(db_path=path)):
        pass  # creates (or checks) the sandbox's schema
    with sqlite3.connect(path) as db:
        first_seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages").fetchone()[0]
    phones = sent["phone"].str.slice(1) if phone_format == "digits" else sent["phone"]
    priority = sent["priority"].to_numpy()
    flash = sent["flash"].to_numpy()
    due = sent["due"].to_numpy()
    rows = []
    for i, (message_id, report_id, phone, text, sender, cost_center, channel, accepted, status, reported) in enumerate(
        zip(sent["message_id"], sent["report_id"], phones, sent["text"], sent["sender"], sent["cost_center"],
            sent["channel"], sent["accepted"], sent["status"], sent["reported"])
    ):
        rows.append((first_seq + i, message_id, phone, text, sender,
                     None if priority[i] < 0 else str(priority[i]), None if flash[i] is None else int(flash[i]),
                     cost_center, None, channel, float(accepted), int(status),
                     None if math.isnan(due[i]) else float(due[i]), report_id, 1 if reported else 0))
    return rows


def _write_sandbox(path: str | Path, rows: list[tuple], chunk: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("BEGIN IMMEDIATE")
        for begin in range(0, len(rows), chunk):
            db.executemany(INSERT_MESSAGE, rows[begin: begin + chunk])
        db.execute("COMMIT")
    finally:
        db.close()
