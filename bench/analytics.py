"""Benchmark 3 (and 5, memory): the analytics page's whole computation over 1,000,000 messages.

Ours: ``smslib.services.analytics.overview`` (what views/analytics.py calls) for the last 30 days:
the database groups and counts, Python gets a few thousand rows. Baseline: load every
message of the period and of the period before into pandas and aggregate there (states
per hour, latency percentiles, the breakdowns, the numbers and prefixes that fail most).

The store is seeded once with ``smslib.services.demo.seed_demo_data`` at a fixed "now" and kept in
bench/.data, so later runs skip the minute it takes. Each side runs in a fresh process
for its own time and peak RSS; ours is the best of three after a warm-up (a page shown
again), the baseline a single run (it is the same work every time).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from .common import DATA_DIR, Result, child_output, print_table, run_child, timer

GOAL_SECONDS = 1.0
GOAL_RATIO = 5.0
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAYS = 30
ZONE = "Europe/Warsaw"


def store_path(messages: int) -> str:
    return str(DATA_DIR / f"analytics-{messages}.db")


def seeded(messages: int) -> str:
    """A store holding ``messages`` demo messages over the DAYS before NOW (made once)."""
    path = DATA_DIR / f"analytics-{messages}.db"
    if path.exists():
        return str(path)
    from smslib.services.demo import seed_demo_data
    from smslib.store import Store

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    for leftover in DATA_DIR.glob(scratch.name + "*"):
        leftover.unlink()
    with Store(f"sqlite:///{scratch}") as store:
        result = seed_demo_data(store, None, messages_count=messages, days=DAYS, now=NOW, seed=1)
    print(f"seeded {result.messages:,} messages in {result.seconds:.1f} s", file=sys.stderr)
    scratch.rename(path)
    return str(path)


def period():
    from smslib.services.analytics import AnalyticsFilter

    return AnalyticsFilter(since=NOW - timedelta(days=DAYS), until=NOW)


def ours(path: str) -> dict[str, float]:
    from smslib.services.analytics import overview
    from smslib.store import Store

    with Store(f"sqlite:///{path}") as store:
        overview(store, period(), ZONE)  # warm-up: the page shown once already
        best = float("inf")
        for _ in range(3):
            with timer() as elapsed:
                result = overview(store, period(), ZONE)
            best = min(best, elapsed())
    return {"seconds": best, "messages": result.kpis.messages}


def baseline(path: str) -> dict[str, float]:
    import pandas as pd
    import sqlalchemy as sa

    f = period()
    engine = sa.create_engine(f"sqlite:///{path}")
    with timer() as elapsed:
        with engine.connect() as connection:
            frame = pd.read_sql(
                sa.text("SELECT phone, state, segments, sender, cost_center, priority, job_id, submitted_at, "
                        "accepted_at, delivered_at FROM messages WHERE submitted_at >= :since AND submitted_at < :until"),
                connection, params={"since": (f.since - f.length).replace(tzinfo=None),
                                    "until": f.until.replace(tzinfo=None)},
                parse_dates=["submitted_at", "accepted_at", "delivered_at"])
        since = pd.Timestamp(f.since.replace(tzinfo=None))
        current, previous = frame[frame["submitted_at"] >= since], frame[frame["submitted_at"] < since]
        for part in (current, previous):
            part.groupby("state")[["segments"]].agg(["count", "sum"])
            delivered = part[part["state"] == "delivered"]
            latency = (delivered["delivered_at"] - delivered["accepted_at"]).dt.total_seconds()
            latency.quantile([0.5, 0.9, 0.95, 0.99])
        local = current["submitted_at"].dt.tz_localize("UTC").dt.tz_convert(ZONE).dt.floor("D")
        current.groupby([local, "state"]).size().unstack(fill_value=0)
        latency = (current["delivered_at"] - current["accepted_at"]).dt.total_seconds()
        latency.groupby(local).quantile([0.5, 0.9, 0.95, 0.99])
        failed = current["state"].isin(["undelivered", "expired", "rejected", "failed"])
        for dimension in ("sender", "cost_center", "priority", "job_id"):
            pd.crosstab(current[dimension].astype(str), current["state"])
        per_phone = current.assign(failed=failed).groupby("phone")["failed"].agg(["sum", "count"])
        per_phone.nlargest(15, "sum")
        prefix = current["phone"].str[:6]
        current.assign(failed=failed).groupby(prefix)["failed"].agg(["sum", "count"]).nlargest(15, "sum")
    engine.dispose()
    return {"seconds": elapsed(), "messages": int(len(current))}


def child(impl: str, messages: int) -> None:
    work = ours if impl == "ours" else baseline
    child_output(work(store_path(messages)))


def run(quick: bool = False) -> list[Result]:
    messages = 100_000 if quick else 1_000_000
    seeded(messages)
    mine = run_child("bench.analytics", "child", "ours", str(messages))
    base = run_child("bench.analytics", "child", "baseline", str(messages))
    speedup = base["seconds"] / mine["seconds"]
    return [
        Result(f"analytics_{messages // 1000}k", mine["seconds"], "s", base["seconds"],
               goal=f"<= {GOAL_SECONDS:g} s and >= {GOAL_RATIO:g}x",
               met=mine["seconds"] <= GOAL_SECONDS and speedup >= GOAL_RATIO,
               note=(f"analytics.overview over {messages:,} messages ({base['messages']:,} in the last {DAYS} days); "
                     "baseline: the rows into pandas, aggregated there")),
        Result(f"analytics_{messages // 1000}k_peak_rss", mine["rss_mb"], "MB", base["rss_mb"],
               note="peak RSS of the whole process (interpreter and imports included)"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics")
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("child", help="one measurement in this process (used by run)")
    one.add_argument("impl", choices=("ours", "baseline"))
    one.add_argument("messages", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "child":
        child(args.impl, args.messages)
    else:
        print_table("Analytics", run(args.quick))


if __name__ == "__main__":
    main()
