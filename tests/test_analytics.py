"""smslib.services.analytics on small hand-built stores with known answers; the seed command; the stats CLI."""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from smslib.services import analytics
from smslib.services.analytics import AnalyticsFilter, View, histogram_percentile, kpis, overview, period
from smslib.cli.stats import main_stats, stats_filter
from smslib import store as store_module
from smslib.core.errors import ValidationError
from smslib.core.models import Channel, DeliveryReport, DeliveryStatus, MessageState
from smslib.services.demo import seed_demo_data
from smslib.store import (MessageFilter, SendOptions, Store, hour_number, latency_bucket, latency_milliseconds,
                          messages)

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
    per_hour = result.over_time.groupby("time")["messages"].sum()
    assert len(per_hour) == 24  # every local hour of the day, quiet ones as 0
    assert per_hour["2026-03-10 09:00"] == 2 and per_hour["2026-03-10 11:00"] == 1
    assert result.over_time["bucket"].iloc[0] == pd.Timestamp("2026-03-10 00:00", tz=WARSAW)
    trend = result.latency_over_time
    assert list(trend["time"]) == ["2026-03-10 09:00"] and trend["messages"].iloc[0] == 2
    assert list(trend["bucket"]) == [pd.Timestamp("2026-03-10 09:00", tz=WARSAW)]


def test_the_two_hours_at_two_when_the_clocks_go_back_stay_apart(store):
    add(store, datetime(2026, 10, 25, 0, 10, tzinfo=UTC), latency=1.0)  # 02:10 CEST (UTC+2)
    add(store, datetime(2026, 10, 25, 0, 50, tzinfo=UTC), state=MessageState.EXPIRED)
    for minute in (5, 20, 40):
        add(store, datetime(2026, 10, 25, 1, minute, tzinfo=UTC), latency=4.0)  # 02:xx CET (UTC+1)
    f = View(range="custom", start=date(2026, 10, 25), end=date(2026, 10, 25)).resolve(WARSAW)
    result = overview(store, f, WARSAW)
    over = result.over_time
    assert f.bucket == "hour" and over["time"].nunique() == 25  # the day has 25 hours
    per_hour = over.groupby("time", sort=False)["messages"].sum()
    assert list(per_hour.index[1:5]) == ["2026-10-25 01:00", "2026-10-25 02:00 UTC+02:00",
                                         "2026-10-25 02:00 UTC+01:00", "2026-10-25 03:00"]
    assert (per_hour["2026-10-25 02:00 UTC+02:00"], per_hour["2026-10-25 02:00 UTC+01:00"]) == (2, 3)
    expired = over[over["state"] == MessageState.EXPIRED.value].set_index("time")["messages"]
    assert (expired["2026-10-25 02:00 UTC+02:00"], expired["2026-10-25 02:00 UTC+01:00"]) == (1, 0)
    first, second = sorted(over.loc[over["time"].str.startswith("2026-10-25 02:00"), "bucket"].unique())
    assert second - first == pd.Timedelta(hours=1)  # two moments an hour apart, not one local time
    trend = result.latency_over_time.set_index("time")
    assert trend.loc["2026-10-25 02:00 UTC+02:00", "messages"] == 1
    assert trend.loc["2026-10-25 02:00 UTC+01:00", "messages"] == 3
    assert trend.loc["2026-10-25 02:00 UTC+01:00", "p50"] == pytest.approx(4.0, rel=0.06)
    # By day, the long day is one bucket with every message.
    week = View(range="custom", start=date(2026, 10, 20), end=date(2026, 10, 26)).resolve(WARSAW)
    per_day = overview(store, week, WARSAW).over_time.groupby("time")["messages"].sum()
    assert per_day["2026-10-25"] == 5 and per_day.sum() == 5 and len(per_day) == 7


def test_a_link_to_history_carries_the_local_days_of_the_period_and_the_fields():
    custom = View(range="custom", start=date(2026, 3, 10), end=date(2026, 3, 11), sender="ACME", priority=3,
                  flash=False, job_id=7, channel=Channel.SMSES).resolve(WARSAW)
    assert custom.history_params(WARSAW) == {"from": "2026-03-10", "to": "2026-03-11", "sender": "ACME",
                                             "priority": "3", "job": "7", "flash": "false", "channel": "smses"}
    now = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 11 March, 00:30 in Warsaw
    week = View(range="7d", cost_center="it").resolve(WARSAW, now=now)
    assert week.history_params(WARSAW) == {"from": "2026-03-05", "to": "2026-03-11", "cost_center": "it"}


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
    from smslib.cli.main import main as cli_main

    for name in ("SMS_API_URL", "SMS_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert cli_main(["seed-demo", "--messages", "300", "--days", "2", "--random-seed", "3"]) == 0
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


# -- the stored latency and hour (what makes a million messages fast) ---------------------------


def record(store, phones, ids, *, submitted_at=T0, accepted_at=T0, options=SendOptions()):
    """Record an accepted batch the way sending does."""
    batch = store.create_batch(uuid.uuid4().hex, phones, "hi", options)
    holder = uuid.uuid4().hex
    assert store.claim_batch(batch.id, holder) is not None
    assert store.mark_batch_accepted(batch.id, holder, ids, accepted_at=accepted_at, submitted_at=submitted_at)


def report(report_id, message_id, status, delivery_time):
    return DeliveryReport(report_id, message_id, "48600100200", DeliveryStatus(status), delivery_time,
                          raw={"ReportId": report_id})


def derived(store):
    """Every message's times and derived columns, by gateway id (by local id when it has none)."""
    m = messages.c
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(m.id, m.message_id, m.submitted_at, m.accepted_at, m.delivered_at,
                                            m.submitted_hour, m.latency_ms, m.latency_bucket))
        return {row.message_id or row.id: row for row in rows}


def assert_derived(row, *, exact=True):
    """latency_ms is delivered_at - accepted_at (SQL keeps milliseconds, so it may round 1 ms apart)."""
    assert row.submitted_hour == hour_number(row.submitted_at)
    expected = latency_milliseconds(row.delivered_at, row.accepted_at)
    if expected is None:
        assert row.latency_ms is None and row.latency_bucket is None
        return
    assert row.latency_ms == expected if exact else abs(row.latency_ms - expected) <= 1
    assert row.latency_bucket == latency_bucket(row.latency_ms)


def test_latency_is_stored_when_a_report_is_applied_before_or_after_the_message(store):
    accepted = datetime(2026, 3, 10, 12, 0, 0, 250_000, tzinfo=UTC)
    record(store, ["+48600100200", "+48600100201"], ["early", "late"], accepted_at=accepted,
           submitted_at=accepted - timedelta(seconds=1))
    assert derived(store)["early"].latency_ms is None
    store.apply_reports([report("r1", "early", 1, accepted + timedelta(seconds=4.5)),
                         report("r2", "orphan", 1, accepted + timedelta(seconds=2.0))])
    # The report of "orphan" came first: its latency is set when the message is recorded.
    record(store, ["+48600100202"], ["orphan"], accepted_at=accepted)
    rows = derived(store)
    assert rows["early"].latency_ms == 4500 and rows["orphan"].latency_ms == 2000
    assert rows["late"].latency_ms is None
    for row in rows.values():
        assert_derived(row, exact=False)
    # A later final report replaces the first: the latency follows delivered_at.
    store.apply_reports([report("r3", "early", 1, accepted + timedelta(seconds=9.25))])
    assert derived(store)["early"].latency_ms == 9250
    assert kpis(store, window(start=accepted - timedelta(hours=1), end=accepted + timedelta(hours=1))).latency.count == 2


def test_latency_of_a_report_without_delivery_time_is_none(store):
    record(store, ["+48600100200"], ["m1"])
    store.apply_reports([report("r1", "m1", -1, None)])
    row = derived(store)["m1"]
    assert row.delivered_at is None and row.latency_ms is None and row.latency_bucket is None


def test_sub_millisecond_and_negative_latencies_count_as_the_shortest(store):
    add(store, T0, latency=0.0004)
    add(store, T0, latency=-3.0)  # clocks out of step: counted, as the shortest
    rows = list(derived(store).values())
    assert sorted(row.latency_ms for row in rows) == [-3000, 0]
    assert {row.latency_bucket for row in rows} == {latency_bucket(1)}


def test_the_migration_fills_the_columns_of_an_older_database(db_url, monkeypatch):
    # Only the migrations up to this one: later ones expect a database that never had their tables.
    ours = store_module.MIGRATIONS.index(store_module._add_analytics_columns)
    monkeypatch.setattr(store_module.migrations, "MIGRATIONS", store_module.MIGRATIONS[: ours + 1])
    with Store(db_url) as store:
        add(store, T0, latency=2.5)
        add(store, T0 + timedelta(hours=5, minutes=59, seconds=59.9999), latency=0.123456)
        add(store, T0, state=MessageState.PENDING)
        _make_version_before(store, ours + 1)
    with Store(db_url) as migrated:
        assert migrated.migrated_from == ours + 1 and migrated.recorded_schema_version() == ours + 2
        rows = list(derived(migrated).values())
        for row in rows:
            assert_derived(row, exact=False)
        assert sorted(row.latency_ms for row in rows if row.latency_ms is not None) == [123, 2500]
        indexes = {index["name"] for index in sa.inspect(migrated.engine).get_indexes("messages")}
        assert {"ix_messages_hour_fields", "ix_messages_hour_latency", "ix_messages_phone"} <= indexes
        assert kpis(migrated, window()).latency.count == 2


def _make_version_before(store, version):
    """Turn a new database back into the schema ``version`` that came before the stored latency."""
    with store.atomic() as connection:
        for name in ("ix_messages_hour_fields", "ix_messages_hour_latency", "ix_messages_phone"):
            connection.exec_driver_sql(f"DROP INDEX {name}")
        for column in ("submitted_hour", "latency_ms", "latency_bucket"):
            connection.exec_driver_sql(f"ALTER TABLE messages DROP COLUMN {column}")
        connection.exec_driver_sql("CREATE INDEX ix_messages_phone ON messages (phone)")
        connection.execute(sa.update(store_module.meta).where(store_module.meta.c.key == "schema_version")
                           .values(value=version))


def test_seed_writes_the_derived_columns(store):
    seed_demo_data(store, None, messages_count=400, days=2, now=T0, seed=5)
    rows = list(derived(store).values())
    assert sum(row.latency_ms is not None for row in rows) > 300
    for row in rows:
        assert_derived(row)  # seed computes them from the stored microseconds: exactly


def test_history_finds_what_a_drill_down_shows(store):
    add(store, T0, priority=3, flash=True, state=MessageState.EXPIRED)
    add(store, T0, priority=3, flash=False, state=MessageState.EXPIRED)
    add(store, T0, priority=None, flash=None, state=MessageState.EXPIRED)
    f = window(priority=3, flash=False)
    shown = analytics.matching_messages(store, f, state=MessageState.EXPIRED)
    found = store.query_messages(MessageFilter(since=f.since, until=f.until, priority=3, flash=False,
                                               states=(MessageState.EXPIRED,))).rows
    assert len(shown) == 1 and [m.id for m in found] == shown["id"].tolist()
    assert store.count_messages(MessageFilter(flash=True)) == 1
    assert store.count_messages(MessageFilter(priority=3)) == 2


def test_failing_numbers_and_prefixes_count_every_message_of_the_period(store):
    for phone, states in (("+48791000001", "xxd"), ("+48791000002", "xd"), ("+48600000003", "xddd")):
        for state in states:
            add(store, T0, phone=phone, state=MessageState.EXPIRED if state == "x" else MessageState.DELIVERED,
                latency=1.0 if state == "d" else None)
    add(store, T0 - timedelta(days=3), phone="+48791000001", state=MessageState.EXPIRED)  # before the period
    result = overview(store, window(), WARSAW)
    numbers = result.failing_numbers.set_index("phone")
    assert numbers.loc["+48791000001", "failed"] == 2 and numbers.loc["+48791000001", "messages"] == 3
    assert list(result.failing_numbers["phone"])[0] == "+48791000001"
    prefixes = result.failing_prefixes.set_index("prefix")
    assert prefixes.loc["+48791", "failed"] == 3 and prefixes.loc["+48791", "messages"] == 5
    assert prefixes.loc["+48600", "failed_share"] == pytest.approx(0.25)


def test_one_worker_and_several_give_the_same_overview(store):
    seed_demo_data(store, None, messages_count=600, days=3, now=T0, seed=9)
    f = AnalyticsFilter(since=T0 - timedelta(days=3), until=T0)
    one, two = overview(store, f, WARSAW, workers=1), overview(store, f, WARSAW, workers=3)
    assert one.kpis == two.kpis
    for name, table in one.tables().items():
        assert table.equals(two.tables()[name]), name


def test_ends_inside_an_hour_count_exactly_and_ends_on_the_hour_too(store):
    # Inside the period's whole hours the hour alone decides; where an end cuts an hour, submitted_at does.
    cut = T0 + timedelta(minutes=20)
    times = [cut + timedelta(minutes=m) for m in (-61, -60, -1, 0, 19, 20, 21, 59, 60, 80, 81)]
    for when in times:
        add(store, when, latency=1.0)
    for since, until in ((cut, cut + timedelta(hours=1)), (T0, T0 + timedelta(hours=1)),
                         (T0 - timedelta(hours=1), cut), (cut, T0 + timedelta(hours=2)),
                         (cut - timedelta(minutes=60), cut + timedelta(minutes=81)),
                         (cut + timedelta(microseconds=1), cut + timedelta(minutes=80))):
        expected = sum(1 for when in times if since <= when < until)
        result = overview(store, AnalyticsFilter(since=since, until=until), WARSAW)
        assert result.kpis.messages == expected and result.kpis.latency.count == expected, (since, until)
        assert int(result.over_time["messages"].sum()) == expected
        assert int(result.latency_over_time["messages"].sum()) == expected
        assert kpis(store, AnalyticsFilter(since=since, until=until)).messages == expected
