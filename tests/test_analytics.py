"""smslib.analytics on small hand-built stores with known answers; the seed command; the stats CLI."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from smslib import analytics
from smslib.analytics import AnalyticsFilter, View, histogram_percentile, kpis, overview, period
from smslib.analytics_cli import main_stats, stats_filter
from smslib.errors import ValidationError
from smslib.models import Channel, MessageState
from smslib.seed import seed_demo_data
from smslib.store import messages

WARSAW = "Europe/Warsaw"
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def add(store, submitted, state=MessageState.DELIVERED, latency=None, **fields):
    """One message submitted at ``submitted``; delivered ``latency`` seconds after acceptance."""
    row = {"phone": "+48600100200", "text": "hi", "channel": Channel.SMSES.value, "sent_by": "test",
           "submitted_at": submitted, "accepted_at": submitted, "state": MessageState(state).value, "segments": 1}
    if latency is not None:
        row["delivered_at"] = submitted + timedelta(seconds=latency)
    row.update(fields)
    with store.atomic() as connection:
        connection.execute(messages.insert(), [row])


def window(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), **fields):
    return AnalyticsFilter(since=start, until=end, **fields)


def test_latency_percentiles_of_known_latencies(store):
    for seconds in range(1, 101):
        add(store, T0, latency=float(seconds))
    result = kpis(store, window())
    assert result.latency.count == 100
    # The exact order statistics are 50, 90, 95 and 99 s; buckets are 1 % wide.
    for p in (50, 90, 95, 99):
        assert result.latency[p] == pytest.approx(p, rel=0.015)


def test_histogram_percentile_interpolates_inside_a_bucket():
    # Two buckets at resolution 1: [e^0, e^1) with 1 value, [e^1, e^2) with 3.
    buckets, counts = np.array([1.0, 0.0]), np.array([3.0, 1.0])
    assert histogram_percentile(buckets, counts, 0.25, 1) == pytest.approx(np.e)  # end of the first bucket
    assert histogram_percentile(buckets, counts, 0.5, 1) == pytest.approx(np.exp(1 + 1 / 3))
    assert histogram_percentile(np.array([]), np.array([]), 0.5, 1) is None


def test_zero_latency_counts_as_the_shortest(store):
    add(store, T0, latency=0.0)
    assert kpis(store, window()).latency[50] == pytest.approx(analytics.SHORTEST_LATENCY, rel=0.02)


def test_shares_count_only_messages_with_a_known_outcome(store):
    for state, count in ((MessageState.DELIVERED, 6), (MessageState.UNDELIVERED, 1), (MessageState.EXPIRED, 1),
                         (MessageState.FAILED, 2), (MessageState.PENDING, 3), (MessageState.UNCERTAIN, 1)):
        for _ in range(count):
            add(store, T0, state=state, latency=2.0 if state is MessageState.DELIVERED else None, segments=2)
    result = kpis(store, window())
    assert result.messages == 14 and result.segments == 28 and result.pending == 3
    assert result.delivered_share == pytest.approx(0.6)  # 6 of 10 settled
    assert result.failed_share == pytest.approx(0.4)
    by_kind = result.failed_share_by_kind()
    assert by_kind[MessageState.FAILED] == pytest.approx(0.2) and by_kind[MessageState.REJECTED] == 0
    assert result.as_dict()["states"]["pending"] == 3


def test_empty_store_gives_zeros_and_empty_tables(store):
    result = overview(store, window(), WARSAW)
    assert result.kpis.messages == 0 and result.kpis.delivered_share is None
    assert result.kpis.latency[95] is None
    assert list(result.states["state"]) == [s.value for s in MessageState]
    assert result.states["messages"].sum() == 0
    for name, table in result.tables().items():
        assert name == "states" or len(table) == 0, name


def test_period_starts_at_local_midnight_and_previous_has_the_same_length():
    now = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # 12:00 in Warsaw, the day after the DST change
    since, until = period("7d", WARSAW, now=now)
    assert since == datetime(2026, 3, 23, 23, 0, tzinfo=UTC)  # 24 March, 00:00 CET
    assert until == now
    f = AnalyticsFilter(since=since, until=until)
    assert f.previous().until == since and f.previous().length == f.length
    today = period("today", WARSAW, now=now)
    assert today[0] == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # 30 March, 00:00 CEST
    day_of_change = period("custom", WARSAW, start=date(2026, 3, 29), end=date(2026, 3, 29))
    assert day_of_change[1] - day_of_change[0] == timedelta(hours=23)
    with pytest.raises(ValidationError):
        period("custom", WARSAW, start=date(2026, 3, 29), end=date(2026, 3, 28))


def test_day_buckets_follow_warsaw_days_across_the_dst_change(store):
    add(store, datetime(2026, 3, 28, 22, 30, tzinfo=UTC))  # 28 March 23:30 CET
    add(store, datetime(2026, 3, 28, 23, 30, tzinfo=UTC))  # 29 March 00:30 CET
    add(store, datetime(2026, 3, 29, 21, 30, tzinfo=UTC))  # 29 March 23:30 CEST
    add(store, datetime(2026, 3, 29, 22, 30, tzinfo=UTC))  # 30 March 00:30 CEST
    f = View(range="custom", start=date(2026, 3, 28), end=date(2026, 3, 30)).resolve(WARSAW)
    assert f.bucket == "day"
    over = overview(store, f, WARSAW).over_time
    per_day = over.groupby("bucket")["messages"].sum()
    assert {str(k.date()): int(v) for k, v in per_day.items()} == {"2026-03-28": 1, "2026-03-29": 2, "2026-03-30": 1}


def test_hour_buckets_for_short_periods_fill_quiet_hours(store):
    add(store, datetime(2026, 3, 10, 8, 15, tzinfo=UTC), latency=1.0)
    add(store, datetime(2026, 3, 10, 8, 45, tzinfo=UTC), latency=3.0)
    add(store, datetime(2026, 3, 10, 10, 5, tzinfo=UTC), state=MessageState.EXPIRED)
    f = View(range="custom", start=date(2026, 3, 10), end=date(2026, 3, 10)).resolve(WARSAW)
    result = overview(store, f, WARSAW)
    assert f.bucket == "hour"
    per_hour = result.over_time.groupby("bucket")["messages"].sum()
    assert len(per_hour) == 24  # every local hour of the day, quiet ones as 0
    assert per_hour[datetime(2026, 3, 10, 9, 0)] == 2 and per_hour[datetime(2026, 3, 10, 11, 0)] == 1
    trend = result.latency_over_time
    assert list(trend["bucket"]) == [datetime(2026, 3, 10, 9, 0)] and trend["messages"].iloc[0] == 2


def test_filters_and_breakdowns(store):
    add(store, T0, sender="ACME", priority=3, flash=True, cost_center="it", latency=1.0)
    add(store, T0, sender="ACME", priority=3, state=MessageState.REJECTED, phone="+48791000001")
    add(store, T0, sender="Shop", channel=Channel.SIMPLEAPI.value, latency=2.0)
    assert kpis(store, window(sender="ACME")).messages == 2
    assert kpis(store, window(priority=3, flash=True)).messages == 1
    assert kpis(store, window(channel=Channel.SIMPLEAPI)).messages == 1
    result = overview(store, window(), WARSAW)
    senders = result.breakdowns["sender"].set_index("label")
    assert senders.loc["ACME", "messages"] == 2 and senders.loc["ACME", "delivered_share"] == pytest.approx(0.5)
    priorities = result.breakdowns["priority"].set_index("label")
    assert set(priorities.index) == {"3 · Highest", "(none)"}
    assert list(result.failing_numbers["phone"]) == ["+48791000001"]
    assert result.failing_prefixes.iloc[0]["prefix"] == "+48791"
    assert result.previous.messages == 0


def test_previous_period_is_counted(store):
    add(store, T0 - timedelta(days=1, hours=12), latency=4.0)
    result = overview(store, window(), WARSAW)
    assert result.kpis.messages == 0 and result.previous.messages == 1
    assert result.previous.latency[50] == pytest.approx(4.0, rel=0.01)


def test_matching_messages_behind_a_state_or_a_bar(store):
    add(store, T0, state=MessageState.EXPIRED, sender="ACME")
    add(store, T0, state=MessageState.DELIVERED, sender=None, latency=2.0)
    assert list(analytics.matching_messages(store, window(), state=MessageState.EXPIRED)["sender"]) == ["ACME"]
    no_sender = analytics.matching_messages(store, window(), dimension="sender", value=None)
    assert list(no_sender["latency_s"]) == [pytest.approx(2.0)]
    assert len(analytics.matching_messages(store, window(), phone_prefix="+48600")) == 2


def test_view_round_trips_through_the_url_and_ignores_nonsense():
    view = View(range="custom", start=date(2026, 3, 1), end=date(2026, 3, 31), sender="ACME", priority=2,
                flash=False, job_id=7, channel=Channel.SMSES)
    assert View.from_params(view.to_params()) == view
    assert View().to_params() == {}
    assert View.from_params({"range": "forever", "priority": "9", "job": "x", "channel": "fax"}) == View()
    assert View.from_params({"range": "custom", "from": "2026-03-05"}).range == "7d"


def test_seed_writes_matching_store_and_sandbox_rows(store, tmp_path):
    sandbox_db = tmp_path / "sandbox.db"
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    result = seed_demo_data(store, sandbox_db, messages_count=500, days=3, now=now, seed=7)
    assert result.messages == 500 and result.reports + result.pending <= 500
    with store.engine.connect() as connection:
        stored = {row.message_id: row for row in connection.execute(messages.select()) if row.message_id}
    with sqlite3.connect(sandbox_db) as db:
        gateway = {row[0]: row for row in db.execute("SELECT message_id, status, read, phone FROM messages")}
    assert set(stored) == set(gateway)  # every accepted demo message is known to the sandbox
    for message_id, row in stored.items():
        status, read, phone = gateway[message_id][1:]
        assert phone == row.phone.lstrip("+")
        assert read == (row.report_id is not None)
        if row.report_id is not None:
            assert MessageState.from_status(status).value == row.state
    numbers = kpis(store, AnalyticsFilter(since=now - timedelta(days=3), until=now))
    assert numbers.messages == 500
    assert 0.7 < numbers.delivered_share < 0.97
    assert 1.0 < numbers.latency[50] < 10.0  # the sandbox's median is 4 s, faster for urgent messages


def test_seed_command_and_stats_cli(tmp_path, monkeypatch, capsys):
    from smslib.sandbox.__main__ import main as sandbox_main

    for name in ("SMS_API_URL", "SMS_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert sandbox_main(["seed", "--messages", "300", "--days", "2", "--random-seed", "3"]) == 0
    assert "300 messages" in capsys.readouterr().out
    assert (tmp_path / "data" / "sandbox.db").exists()
    out = io.StringIO()
    assert main_stats(["--json"], out=out) == 0
    numbers = json.loads(out.getvalue())
    assert numbers["messages"] == 300 and sum(numbers["states"].values()) == 300
    assert numbers["latency_seconds"]["p50"] > 0
    assert main_stats(["--since", "yesterday"]) == 1
    assert "--since" in capsys.readouterr().err


def test_stats_filter_reads_dates_in_the_display_zone():
    f = stats_filter("2026-03-29", "2026-03-30", WARSAW)
    assert f.since == datetime(2026, 3, 28, 23, 0, tzinfo=UTC) and f.length == timedelta(hours=23)
    assert stats_filter("2026-03-01T08:00+00:00", None, WARSAW).since == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
