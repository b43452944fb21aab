"""The store on a real database file: schema and migrations, report rules, threads, time
zones, keyset paging, filters, batches, templates and the blocklist.

Every test takes the ``store`` fixture, parametrised by database; the URLs live only in
``db_url`` so that another engine is one more parameter.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smslib import store as store_module
from smslib.core.errors import ConfigError, ConflictError, InvalidPhoneNumber, ValidationError
from smslib.core.models import Channel, DeliveryReport, DeliveryStatus, MessageState
from tests.conftest import DATABASES, url_for
from smslib.store import (
    ApplyCounts,
    BatchState,
    Cursor,
    JobState,
    MessageFilter,
    SendOptions,
    Store,
    messages,
    schema_version,
)

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(store: Store, phones, *, ids=None, text="Hello", options=SendOptions(), submitted_at=T0,
           accepted_at=T0, job_id=None):
    """Record an accepted batch the way sending does; returns the batch."""
    batch = store.create_batch(uuid.uuid4().hex, phones, text, options, job_id=job_id)
    holder = uuid.uuid4().hex
    assert store.claim_batch(batch.id, holder) is not None
    ids = ids if ids is not None else [uuid.uuid4().hex[:16] for _ in phones]
    assert store.mark_batch_accepted(batch.id, holder, ids, accepted_at=accepted_at, submitted_at=submitted_at)
    return store.get_batch(batch.id)


def report(report_id, message_id, status, delivery_time=T0, phone="48600000000"):
    return DeliveryReport(report_id, message_id, phone, DeliveryStatus(status), delivery_time,
                          raw={"ReportId": report_id, "Status": int(status)})


def message_by_gateway_id(store: Store, message_id: str):
    rows = store.query_messages(MessageFilter(), limit=10_000).rows
    return next(m for m in rows if m.message_id == message_id)


# -- schema and migrations ----------------------------------------------------------------


def test_a_new_database_gets_every_table_and_the_current_schema_version(store):
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"meta", "messages", "batches", "jobs", "report_log", "templates", "blocklist"} <= tables
    assert store.recorded_schema_version() == schema_version()
    assert store.migrated_from == 0


def test_reopening_changes_nothing_and_keeps_the_data(store, db_url):
    record(store, ["+48600000001"], ids=["keep-1"])
    with Store(db_url) as again:
        assert again.migrated_from == schema_version()
        assert again.recorded_schema_version() == schema_version()
        assert again.count_messages() == 1


def test_an_older_database_is_migrated_on_open_and_only_once(store, db_url, monkeypatch):
    store.close()
    runs = []

    def add_notes_table(connection):
        runs.append(1)
        connection.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))

    built_at = schema_version()
    monkeypatch.setattr(store_module.migrations, "MIGRATIONS", [*store_module.MIGRATIONS, add_notes_table])
    with Store(db_url) as migrated:
        assert migrated.migrated_from == built_at
        assert migrated.recorded_schema_version() == built_at + 1
        assert "notes" in sa.inspect(migrated.engine).get_table_names()
    with Store(db_url) as again:
        assert again.migrated_from == built_at + 1
    assert runs == [1]


def test_a_database_newer_than_the_code_is_refused(store, db_url):
    with store.atomic() as connection:
        connection.execute(sa.update(store_module.meta).where(store_module.meta.c.key == "schema_version")
                           .values(value=schema_version() + 1))
    with pytest.raises(ConfigError, match="newer than this code"):
        Store(db_url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(store):
    if store.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_an_in_memory_sqlite_url_is_refused_with_a_way_out():
    with pytest.raises(ConfigError, match="use a file"):
        Store("sqlite://")


def test_the_change_counter_grows_with_writes_only(store):
    before = store.change_counter()
    store.count_messages()
    store.query_messages()
    assert store.change_counter() == before
    store.save_template("greeting", "Hello")
    assert store.change_counter() > before


def test_atomic_rolls_back_every_store_call_inside_it(store):
    before = store.change_counter()
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.save_template("one", "first")
            store.block(["+48600000001"])
            raise RuntimeError("abort")
    assert store.list_templates() == [] and store.list_blocked() == []
    assert store.change_counter() == before


def test_store_calls_inside_atomic_commit_together(store):
    with store.atomic():
        store.save_template("one", "first")
        store.save_template("two", "second")
        assert [t.name for t in store.list_templates()] == ["one", "two"]  # reads see the open transaction
    assert [t.name for t in store.list_templates()] == ["one", "two"]


# -- times ----------------------------------------------------------------------------------


def test_times_come_back_as_aware_utc_whatever_zone_went_in(store):
    warsaw = datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Warsaw"))
    batch = record(store, ["+48600000001"], submitted_at=warsaw, accepted_at=warsaw + timedelta(seconds=1))
    stored = store.batch_messages(batch.id)[0]
    assert stored.submitted_at == warsaw and stored.submitted_at.tzinfo is UTC
    assert stored.submitted_at.hour == 12  # CEST is UTC+2
    assert stored.accepted_at.tzinfo is UTC and stored.latency is None
    assert batch.created_at.tzinfo is UTC


def test_a_naive_time_is_refused_rather_than_guessed(store):
    with pytest.raises(ValueError, match="naive"):
        store.query_messages(MessageFilter(since=datetime(2026, 1, 1)))


def test_time_filters_compare_instants_not_wall_clocks(store):
    record(store, ["+48600000001"], submitted_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    tokyo = ZoneInfo("Asia/Tokyo")
    assert store.count_messages(MessageFilter(since=datetime(2026, 3, 1, 21, 0, tzinfo=tokyo))) == 1
    assert store.count_messages(MessageFilter(since=datetime(2026, 3, 1, 21, 1, tzinfo=tokyo))) == 0


# -- delivery reports -------------------------------------------------------------------------


def test_a_report_updates_its_message_and_is_logged(store):
    record(store, ["+48600000001"], ids=["m1"], accepted_at=T0)
    counts = store.apply_reports([report("r1", "m1", 1, T0 + timedelta(seconds=7))])
    assert counts == ApplyCounts(new=1, duplicate=0, unknown=0)
    message = message_by_gateway_id(store, "m1")
    assert (message.state, message.status_code, message.report_id) == (MessageState.DELIVERED, 1, "r1")
    assert message.delivered_at == T0 + timedelta(seconds=7) and message.latency == timedelta(seconds=7)
    detail = store.get_message(message.id)
    assert [(r.report_id, r.status, r.linked) for r in detail.reports] == [("r1", DeliveryStatus.DELIVERED, True)]
    assert detail.reports[0].raw == {"ReportId": "r1", "Status": 1}


def test_the_same_report_twice_changes_nothing(store):
    record(store, ["+48600000001"], ids=["m1"])
    store.apply_reports([report("r1", "m1", -1)])
    before = message_by_gateway_id(store, "m1")
    assert store.apply_reports([report("r1", "m1", -1), report("r1", "m1", -1)]) == ApplyCounts(0, 2, 0)
    assert message_by_gateway_id(store, "m1") == before
    assert len(store.get_message(before.id).reports) == 1


def test_a_final_status_is_never_overwritten_by_an_undetermined_one(store):
    record(store, ["+48600000001"], ids=["m1"])
    store.apply_reports([report("r1", "m1", 1, T0)])
    store.apply_reports([report("r2", "m1", 0, T0 + timedelta(hours=1))])
    store.apply_reports([report("r3", "m1", 7, T0 + timedelta(hours=2))])  # a code the contract lacks
    message = message_by_gateway_id(store, "m1")
    assert (message.state, message.report_id) == (MessageState.DELIVERED, "r1")
    assert len(store.get_message(message.id).reports) == 3


def test_an_undetermined_report_counts_until_a_final_one_comes(store):
    record(store, ["+48600000001"], ids=["m1"])
    store.apply_reports([report("r0", "m1", 0, T0 + timedelta(hours=1))])
    assert message_by_gateway_id(store, "m1").state is MessageState.UNKNOWN
    store.apply_reports([report("r1", "m1", -2, T0)])  # older, but final
    assert message_by_gateway_id(store, "m1").state is MessageState.EXPIRED


@pytest.mark.parametrize("order", [("early", "late"), ("late", "early")])
def test_between_two_final_reports_the_later_delivery_time_wins_in_any_order(store, order):
    record(store, ["+48600000001"], ids=["m1"])
    reports = {"early": report("r-early", "m1", -1, T0), "late": report("r-late", "m1", 1, T0 + timedelta(minutes=5))}
    for name in order:
        store.apply_reports([reports[name]])
    message = message_by_gateway_id(store, "m1")
    assert (message.state, message.report_id) == (MessageState.DELIVERED, "r-late")
    assert message.delivered_at == T0 + timedelta(minutes=5)


def test_each_status_maps_to_its_state(store):
    record(store, [f"+4860000000{i}" for i in range(4)], ids=["a", "b", "c", "d"])
    store.apply_reports([report("ra", "a", 1), report("rb", "b", -1), report("rc", "c", -2), report("rd", "d", -3)])
    states = store.message_states(["a", "b", "c", "d", "missing"])
    assert states == {"a": MessageState.DELIVERED, "b": MessageState.UNDELIVERED,
                      "c": MessageState.EXPIRED, "d": MessageState.REJECTED}


def test_a_report_for_an_unknown_message_is_kept_and_linked_when_the_message_appears(store):
    counts = store.apply_reports([report("r1", "later", -3, T0 + timedelta(seconds=3)), report("r2", "other", 1)])
    assert counts == ApplyCounts(new=2, duplicate=0, unknown=2)
    assert store.unlinked_report_count() == 2
    batch = record(store, ["+48600000001"], ids=["later"])
    message = store.batch_messages(batch.id)[0]
    assert (message.state, message.report_id, message.status_code) == (MessageState.REJECTED, "r1", -3)
    assert store.get_message(message.id).reports[0].linked
    assert store.unlinked_report_count() == 1
    assert store.apply_reports([report("r1", "later", -3)]) == ApplyCounts(new=0, duplicate=1, unknown=0)


def derived_columns(store: Store, message_id: str):
    with store.engine.connect() as connection:
        return connection.execute(sa.select(messages.c.submitted_hour, messages.c.latency_ms, messages.c.latency_bucket)
                                  .where(messages.c.message_id == message_id)).one()


def test_a_report_without_a_delivery_time_leaves_the_latency_unknown(store):
    record(store, ["+48600000001", "+48600000002"], ids=["m1", "m2"], accepted_at=T0)
    store.apply_reports([report("r1", "m1", -2, None), report("r2", "m2", 1, T0 + timedelta(seconds=2))])
    expired = message_by_gateway_id(store, "m1")
    assert (expired.state, expired.delivered_at, expired.latency) == (MessageState.EXPIRED, None, None)
    assert derived_columns(store, "m1")[1:] == (None, None)
    assert derived_columns(store, "m2") == (store_module.hour_number(T0), 2000, store_module.latency_bucket(2000))


@pytest.mark.parametrize("update_from", [True, False], ids=["joined", "general-only"])
def test_one_apply_mixes_single_reports_several_reports_and_unknown_messages(store, monkeypatch, update_from):
    # A message with one new report takes the joined way (where the engine has UPDATE ... FROM);
    # one with several, or with a report from before, the general one. Either gives the same.
    monkeypatch.setattr(store_module.report_states, "_updates_from_joins", lambda connection: update_from)
    record(store, [f"+4860000000{i}" for i in range(5)], ids=["one", "two", "old", "later", "none"])
    store.apply_reports([report("old-0", "old", 0, T0 + timedelta(hours=1))])
    counts = store.apply_reports([
        report("one-1", "one", 1, T0 + timedelta(seconds=5)),
        report("two-0", "two", 0, T0 + timedelta(hours=2)), report("two-1", "two", -3, T0 + timedelta(seconds=9)),
        report("old-1", "old", -1, T0 + timedelta(seconds=7)),
        report("later-1", "later", 1, T0), report("later-2", "later", 1, T0 + timedelta(seconds=3)),
        report("stranger-1", "stranger", 1),
        report("one-1", "one", -1),  # the same ReportId again in the same call: the first counts
    ])
    assert counts == ApplyCounts(new=7, duplicate=1, unknown=1)
    shown = {m.message_id: (m.report_id, m.state, m.delivered_at) for m in store.query_messages(limit=100).rows}
    assert shown == {
        "one": ("one-1", MessageState.DELIVERED, T0 + timedelta(seconds=5)),
        "two": ("two-1", MessageState.REJECTED, T0 + timedelta(seconds=9)),  # final beats a later 0
        "old": ("old-1", MessageState.UNDELIVERED, T0 + timedelta(seconds=7)),
        "later": ("later-2", MessageState.DELIVERED, T0 + timedelta(seconds=3)),  # the later time wins
        "none": (None, MessageState.PENDING, None),
    }
    assert derived_columns(store, "one")[1] == 5000 and derived_columns(store, "later")[1] == 3000
    assert store.unlinked_report_count() == 1
    assert all(r.linked for r in store.get_message(message_by_gateway_id(store, "two").id).reports)


_CANDIDATES = [  # (suffix, status, seconds after T0 or None)
    ("a", 1, 10), ("b", -1, 20), ("c", 0, 30), ("d", -2, None), ("e", 7, 5), ("f", 1, 20), ("g", -3, 20),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_end_state_does_not_depend_on_order_repeats_or_grouping(store, data):
    message_id = uuid.uuid4().hex[:16]
    record_first = data.draw(st.booleans(), label="message recorded before the reports")
    chosen = data.draw(st.lists(st.sampled_from(_CANDIDATES), min_size=1, max_size=10), label="reports")
    reports = [report(f"{message_id}-{suffix}", message_id, status,
                      None if seconds is None else T0 + timedelta(seconds=seconds))
               for suffix, status, seconds in chosen]
    cuts = sorted(data.draw(st.sets(st.integers(0, len(reports)), max_size=3), label="call boundaries"))
    if record_first:
        record(store, ["+48600000001"], ids=[message_id])
    for start, end in zip([0, *cuts], [*cuts, len(reports)]):
        store.apply_reports(reports[start:end])
    if not record_first:
        record(store, ["+48600000001"], ids=[message_id])
    # The docstring's rules, as an oracle: final first, then later time, then greater id.
    best = max(reports, key=lambda r: (r.status.is_final, r.delivery_time or datetime.min.replace(tzinfo=UTC),
                                       r.report_id))
    message = message_by_gateway_id(store, message_id)
    assert message.report_id == best.report_id
    assert message.state is MessageState.from_status(best.status)
    assert message.delivered_at == best.delivery_time


def test_claim_pending_checks_returns_each_stuck_message_once_per_interval(store):
    record(store, ["+48600000001", "+48600000002"], ids=["old-1", "old-2"], submitted_at=T0)
    record(store, ["+48600000003"], ids=["new-1"], submitted_at=T0 + timedelta(minutes=10))
    store.apply_reports([report("r", "old-2", 1)])
    now = T0 + timedelta(minutes=11)
    cutoff = now - timedelta(minutes=5)
    assert store.claim_pending_checks(submitted_before=cutoff, now=now) == ["old-1"]
    assert store.claim_pending_checks(submitted_before=cutoff, now=now) == []
    later = now + timedelta(minutes=6)
    assert sorted(store.claim_pending_checks(submitted_before=later - timedelta(minutes=5), now=later)) == [
        "new-1", "old-1"]


# -- threads ------------------------------------------------------------------------------------


def test_threads_and_a_second_store_write_at_once_without_database_is_locked(store):
    other = Store(store.engine.url)  # another process would open the same database like this
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def writer(target: Store, name: str) -> None:
        try:
            start.wait(timeout=10)
            for i in range(25):
                batch = record(target, [f"+4860{i:07d}"], ids=[f"{name}-{i}"])
                target.apply_reports([report(f"r-{name}-{i}", f"{name}-{i}", 1)])
                target.block([f"+4870{i:07d}"], reason=name)
                assert target.batch_messages(batch.id)[0].state is MessageState.DELIVERED
        except BaseException as error:  # noqa: BLE001 -- handed to the main thread, which fails the test
            errors.append(error)

    def reader() -> None:
        try:
            start.wait(timeout=10)
            for _ in range(50):
                store.count_messages(MessageFilter(states=(MessageState.DELIVERED,)))
        except BaseException as error:  # noqa: BLE001 -- as above
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(store, "a")), threading.Thread(target=writer, args=(store, "b")),
               threading.Thread(target=writer, args=(other, "c")), threading.Thread(target=writer, args=(other, "d")),
               threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    other.close()
    assert not errors, errors
    assert store.count_messages(MessageFilter(states=(MessageState.DELIVERED,))) == 100
    assert len(store.list_blocked()) == 25


# -- history queries ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=DATABASES)
def history(request, tmp_path_factory):
    """3,000 messages with many equal sort values, so that ties between pages are exercised; read only."""
    with Store(url_for(request.param, tmp_path_factory.mktemp("history"), request)) as store:
        _fill_history(store)
        yield store


def _fill_history(store: Store) -> None:
    states = [1, -1, -2, -3, None]
    for k in range(30):
        phones = [f"+48600{i % 50:06d}" for i in range(100)]  # each number 60 times
        ids = [f"h{k}-{i}" for i in range(100)]
        record(store, phones, ids=ids, submitted_at=T0 + timedelta(minutes=k % 7),
               text="Promo" if k % 2 else "Reminder", options=SendOptions(sender="ACME" if k % 3 else "Shop"))
        store.apply_reports([report(f"hr{k}-{i}", ids[i], states[i % 5]) for i in range(100) if states[i % 5]])


def _offset_pages(store: Store, sort: str, descending: bool, size: int, filters: MessageFilter):
    column = messages.c[sort]
    order = [column.desc(), messages.c.id.desc()] if descending else [column.asc(), messages.c.id.asc()]
    query = sa.select(messages.c.id).where(*store_module._conditions(filters)).order_by(*order)
    with store.engine.connect() as connection:
        ids = list(connection.scalars(query))
    return [ids[i:i + size] for i in range(0, len(ids), size)]


@pytest.mark.parametrize("sort", ["submitted_at", "phone", "state", "id"])
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_equal_offset_pages(history, sort, descending):
    filters = MessageFilter(text="promo")
    expected = _offset_pages(history, sort, descending, 70, filters)
    pages, cursor = [], None
    while True:
        page = history.query_messages(filters, sort=sort, descending=descending, after=cursor, limit=70)
        pages.append([m.id for m in page.rows])
        cursor = page.next_cursor
        if cursor is None:
            break
        assert isinstance(cursor, Cursor)
    assert pages == expected
    assert sum(map(len, pages)) == history.count_messages(filters) == 1500


def test_an_unknown_sort_key_is_refused_with_the_choices(store):
    with pytest.raises(ValidationError, match="submitted_at"):
        store.query_messages(sort="text")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (MessageFilter(), 3000),
        (MessageFilter(states=(MessageState.DELIVERED,)), 600),
        (MessageFilter(states=(MessageState.PENDING, MessageState.EXPIRED)), 1200),
        (MessageFilter(text="REMIND"), 1500),
        (MessageFilter(text="%"), 0),  # a wildcard in the search is a plain character
        (MessageFilter(sender="Shop"), 1000),
        (MessageFilter(sender="Shop", text="promo"), 500),
        (MessageFilter(since=T0 + timedelta(minutes=5)), 800),
        (MessageFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2)), 500),
        (MessageFilter(phone="+4860000001", phone_match="prefix"), 600),
        (MessageFilter(phone="0049", phone_match="contains"), 60),
        (MessageFilter(phone="0049", phone_match="prefix"), 0),
        (MessageFilter(channel=Channel.SIMPLEAPI), 0),
        (MessageFilter(sent_by="local", cost_center=None), 3000),
        (MessageFilter(sent_by="someone else"), 0),
    ],
)
def test_filters_and_counts_agree(history, filters, expected):
    assert history.count_messages(filters) == expected
    rows = history.query_messages(filters, limit=5000).rows
    assert len(rows) == expected


def test_get_message_is_none_for_an_unknown_id(store):
    assert store.get_message(12345) is None


# -- batches and jobs ---------------------------------------------------------------------------


def test_a_batch_is_pending_until_claimed_and_only_one_holder_gets_it(store):
    batch = store.create_batch("tx-1", ["+48600000001"], "Hi", SendOptions(priority=2))
    assert batch.state is BatchState.PENDING and batch.attempts == 0
    assert store.create_batch("tx-1", ["+48600000001"], "Hi", SendOptions(priority=2)).id == batch.id
    first = store.claim_batch(batch.id, "one")
    assert first.state is BatchState.SENDING and first.attempts == 1 and first.lease_holder == "one"
    assert store.claim_batch(batch.id, "two") is None
    assert not store.mark_batch_rejected(batch.id, "two", "not yours", submitted_at=T0)
    assert store.get_batch(batch.id).state is BatchState.SENDING


def test_a_sending_batch_whose_lease_expired_is_taken_over(store):
    batch = store.create_batch("tx-1", ["+48600000001"], "Hi")
    store.claim_batch(batch.id, "crashed", lease_seconds=60, now=T0)
    assert store.claim_batch(batch.id, "next", now=T0 + timedelta(seconds=30)) is None
    taken = store.claim_batch(batch.id, "next", now=T0 + timedelta(seconds=61))
    assert taken.lease_holder == "next" and taken.attempts == 2
    assert not store.mark_batch_accepted(batch.id, "crashed", ["x"], accepted_at=T0, submitted_at=T0)


def test_the_same_transaction_id_for_a_different_send_is_a_conflict(store):
    store.create_batch("tx-1", ["+48600000001"], "Hi")
    with pytest.raises(ConflictError, match="tx-1"):
        store.create_batch("tx-1", ["+48600000001"], "Hello")
    with pytest.raises(ConflictError):
        store.create_batch("tx-1", ["+48600000001"], "Hi", SendOptions(sender="Other"))


def test_finishing_a_batch_records_one_row_per_phone_with_its_options(store):
    job = store.create_job("Spring promo", source_filename="list.xlsx", total=2, settings={"batch_size": 2})
    options = SendOptions(sender="ACME", priority=3, flash=True, cost_center="it", sent_by="anna")
    batch = store.create_batch("tx-1", ["+48600000001", "+48600000002"], "Hi", options, job_id=job.id, seq=0,
                               source_rows=[5, 9], segments=1, encoding="GSM-7")
    store.claim_batch(batch.id, "me")
    assert store.mark_batch_uncertain(batch.id, "me", "timed out", submitted_at=T0)
    assert [m.state for m in store.batch_messages(batch.id)] == [MessageState.UNCERTAIN] * 2
    store.claim_batch(batch.id, "me", states=[BatchState.UNCERTAIN])
    assert store.mark_batch_accepted(batch.id, "me", ["id-1", "id-2"], accepted_at=T0, submitted_at=T0)
    rows = store.batch_messages(batch.id)  # the retry replaced the uncertain rows
    assert [(m.phone, m.message_id, m.source_row, m.state) for m in rows] == [
        ("+48600000001", "id-1", 5, MessageState.PENDING), ("+48600000002", "id-2", 9, MessageState.PENDING)]
    first = rows[0]
    assert (first.sender, first.priority, first.flash, first.cost_center, first.sent_by, first.job_id) == (
        "ACME", 3, True, "it", "anna", job.id)
    assert (first.transaction_id, first.channel, first.segments, first.encoding) == ("tx-1", Channel.SMSES, 1, "GSM-7")
    assert store.get_batch(batch.id).state is BatchState.ACCEPTED
    assert store.count_messages(MessageFilter(job_id=job.id)) == 2


def make_planned_job(store: Store, batches: int):
    job = store.create_job("planned", total=batches)
    created = [store.create_batch(f"job{job.id}-{seq}", [f"+486000{seq:05d}"], f"Hi {seq}", job_id=job.id, seq=seq)
               for seq in range(1, batches + 1)]
    return job, created


def test_claim_batches_takes_several_in_one_go_in_order_and_expired_ones_first(store):
    job, created = make_planned_job(store, 5)
    first = store.claim_batches(job.id, "w/1", 2, lease_seconds=60, now=T0)
    assert [c.batch.seq for c in first] == [1, 2] and not any(c.taken_over for c in first)
    assert all((c.batch.state, c.batch.lease_holder, c.batch.attempts) == (BatchState.SENDING, "w/1", 1) for c in first)
    assert [c.batch.seq for c in store.claim_batches(job.id, "w/2", 2, lease_seconds=600, now=T0)] == [3, 4]
    later = T0 + timedelta(seconds=61)  # w/1 stopped: its leases ran out, w/2's did not
    again = store.claim_batches(job.id, "w/3", 5, lease_seconds=60, now=later)
    assert [(c.batch.seq, c.taken_over, c.batch.attempts) for c in again] == [(1, True, 2), (2, True, 2), (5, False, 1)]
    assert store.claim_batches(job.id, "w/4", 5, lease_seconds=60, now=later) == []
    assert not store.has_claimable_batch(job.id, now=later)


def test_finish_batches_records_several_in_one_transaction_leaving_one_it_does_not_hold(store):
    job, _ = make_planned_job(store, 3)
    claims = store.claim_batches(job.id, "me", 3, lease_seconds=60)
    before = store.change_counter()
    held = store.finish_batches([
        store_module.FinishedBatch(claims[0].batch, "me", BatchState.ACCEPTED, T0, ["id-1"], T0),
        store_module.FinishedBatch(claims[1].batch, "someone else", BatchState.ACCEPTED, T0, ["id-2"], T0),
        store_module.FinishedBatch(claims[2].batch, "me", BatchState.REJECTED, T0, error="400: bad sender"),
    ])
    assert held == [True, False, True]
    assert store.change_counter() == before + 1  # one transaction
    states = [store.get_batch(c.batch.id).state for c in claims]
    assert states == [BatchState.ACCEPTED, BatchState.SENDING, BatchState.REJECTED]
    assert [(m.message_id, m.state) for m in store.batch_messages(claims[0].batch.id)] == [("id-1", MessageState.PENDING)]
    assert store.batch_messages(claims[1].batch.id) == []
    assert [(m.state, m.error) for m in store.batch_messages(claims[2].batch.id)] == [
        (MessageState.FAILED, "400: bad sender")]


def test_an_older_database_gets_the_claim_index(store, db_url):
    with store.atomic() as connection:
        connection.exec_driver_sql("DROP INDEX ix_batches_job_state_seq")
        connection.execute(sa.update(store_module.meta).where(store_module.meta.c.key == "schema_version")
                           .values(value=schema_version() - 1))
    store.close()
    with Store(db_url) as migrated:
        assert migrated.migrated_from == schema_version() - 1
        indexes = {index["name"] for index in sa.inspect(migrated.engine).get_indexes("batches")}
        assert "ix_batches_job_state_seq" in indexes


def test_a_released_batch_is_pending_again_with_its_error(store):
    batch = store.create_batch("tx-1", ["+48600000001"], "Hi")
    store.claim_batch(batch.id, "me")
    assert store.release_batch(batch.id, "me", "429")
    released = store.get_batch(batch.id)
    assert (released.state, released.last_error, released.lease_holder) == (BatchState.PENDING, "429", None)
    assert store.batch_messages(batch.id) == []


def test_jobs_are_created_queued_and_change_state(store):
    job = store.create_job("Bulk", created_by="anna", send_window={"from": "08:00", "to": "20:00"},
                           scheduled_at=T0)
    assert (job.state, job.created_by, job.send_window, job.scheduled_at) == (
        JobState.QUEUED, "anna", {"from": "08:00", "to": "20:00"}, T0)
    store.set_job_state(job.id, JobState.FAILED, error="gateway down")
    assert (store.get_job(job.id).state, store.get_job(job.id).last_error) == (JobState.FAILED, "gateway down")
    assert store.get_job(job.id + 1) is None


# -- templates and blocklist --------------------------------------------------------------------


def test_templates_are_saved_listed_replaced_and_deleted(store):
    store.save_template("Reminder", "See you at {time}")
    store.save_template("  Apology ", "Sorry")
    assert [t.name for t in store.list_templates()] == ["Apology", "Reminder"]
    with pytest.raises(ValidationError, match="already exists"):
        store.save_template("Reminder", "Other")
    replaced = store.save_template("Reminder", "New text", replace=True)
    assert replaced.text == "New text" and replaced.updated_at >= replaced.created_at
    assert store.get_template("Reminder").text == "New text"
    assert store.delete_template("Reminder") and not store.delete_template("Reminder")
    assert store.get_template("Reminder") is None


@pytest.mark.parametrize(("name", "text", "field"), [("", "x", "name"), ("   ", "x", "name"), ("n", " ", "text")])
def test_a_template_needs_a_name_and_a_text(store, name, text, field):
    with pytest.raises(ValidationError) as raised:
        store.save_template(name, text)
    assert raised.value.field == field


def test_the_blocklist_adds_many_ignores_repeats_and_answers_membership(store):
    assert store.block(["+48600000001", "+48600000002", "+48600000001"], reason="asked", added_by="anna") == 2
    assert store.block(["+48600000002", "+48600000003"]) == 1
    assert store.blocked(["+48600000001", "+48600000003", "+48600000009"]) == {"+48600000001", "+48600000003"}
    listed = {b.phone: b for b in store.list_blocked()}
    assert (listed["+48600000001"].reason, listed["+48600000001"].added_by) == ("asked", "anna")
    assert store.unblock(["+48600000001", "+48600000009"]) == 1
    assert store.blocked(["+48600000001"]) == set()


def test_the_blocklist_refuses_numbers_not_in_e164(store):
    with pytest.raises(InvalidPhoneNumber, match="E.164"):
        store.block(["600 000 001"])
    assert store.list_blocked() == []


def test_blocked_answers_for_more_numbers_than_one_query_takes(store):
    phones = [f"+4860{i:07d}" for i in range(1200)]
    store.block(phones[::2])
    assert store.blocked(phones) == set(phones[::2])
